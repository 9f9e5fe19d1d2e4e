using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Text;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.IO;
using Packet.Actors.Runtime;
using Packet.Io.Transports.Tls;

namespace Packet.Actors;

/// <summary>
/// The handler of one TCP connection: Packet's <c>Packet::Connection</c> and EventMachine's
/// <c>EM::Connection</c>. Subclass it, override the hooks you need, and hand the type (or a factory)
/// to <see cref="Reactor.StartServer{T}"/> or an instance to <see cref="Reactor.Connect{T}(string,int,Action{T}?)"/>.
/// </summary>
/// <remarks>
/// <para>
/// Each connection is hosted by its own actor. The reactor calls the hooks on that actor, one at a
/// time and never concurrently, so a handler needs no locks for its own state. Hook order:
/// </para>
/// <list type="bullet">
/// <item>outbound (client): <see cref="PostInit"/>, <see cref="ConnectionCompleted"/>, <see cref="ReceiveData"/>*, <see cref="Unbind"/>;</item>
/// <item>accepted (server): <see cref="PostInit"/>, the server's per-connection callback, <see cref="ReceiveData"/>*, <see cref="Unbind"/>.</item>
/// </list>
/// <para>
/// Accepted connections do <b>not</b> get <see cref="ConnectionCompleted"/>. That is EventMachine's
/// behaviour; the Ruby Packet called it for accepted connections too. Use <see cref="PostInit"/>, which
/// runs once the accepted socket is ready.
/// </para>
/// <para>
/// Every method below (<see cref="SendData(ReadOnlySpan{byte})"/>, the close methods, timers,
/// <see cref="Pause"/>) may be called from any thread. Called from this connection's own hooks or timer
/// callbacks it acts at once; called from elsewhere it is queued to the connection's actor and acts
/// there, in call order.
/// </para>
/// <para>
/// A hook that throws closes only this connection: the exception is logged, passed to
/// <see cref="Reactor.ErrorHandler"/>, and becomes the <see cref="UnbindReason"/> with kind
/// <see cref="UnbindKind.HandlerException"/>. The reactor and every other connection keep running.
/// </para>
/// </remarks>
public class Connection
{
    private readonly Lock _gate = new();
    private volatile IActorRef? _self;
    private volatile bool _prepared = ReactorRuntime.MakingHandler; // made by a server's factory: a reactor owns it already
    private List<Action<ConnectionActor>>? _early;
    private ConnectionActor? _actor;
    private IActorRef? _actorSelf;
    private long _nextTimerId;

    /// <summary>The reactor this connection belongs to. Set before <see cref="PostInit"/> runs.</summary>
    public Reactor Reactor { get; private set; } = null!;

    /// <summary>
    /// The limits of this connection's reactor (line, block and frame lengths, the backpressure marks), so the
    /// handler can refuse what would pass one in its own protocol. Set before <see cref="PostInit"/> runs.
    /// </summary>
    public ConnectionLimits Limits { get; private set; } = null!;

    /// <summary>The peer's address; <see langword="null"/> until the socket is connected.</summary>
    public EndPoint? PeerEndPoint { get; internal set; }

    /// <summary>This side's address; <see langword="null"/> until the socket is connected.</summary>
    public EndPoint? LocalEndPoint { get; internal set; }

    /// <summary>
    /// Closes the connection with <see cref="UnbindKind.InactivityTimeout"/> after this long without a
    /// byte read or written. <see langword="null"/> disables it. Starts as <c>packet.tcp.inactivity-timeout</c>;
    /// setting it restarts the count.
    /// </summary>
    public TimeSpan? InactivityTimeout
    {
        get => _inactivityTimeout;
        set
        {
            if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "an inactivity timeout must be positive, or null to disable it");
            _inactivityTimeout = value;
            if (_self is not null) OnActor(actor => actor.RestartInactivityTimer());
        }
    }

    private TimeSpan? _inactivityTimeout;

    /// <summary>
    /// How long an outbound connect may stay pending before it fails with
    /// <see cref="UnbindKind.ConnectTimeout"/>. Starts as <c>packet.tcp.connect-timeout</c>; set it in
    /// <see cref="PostInit"/> or in the init callback of <see cref="Reactor.Connect{T}(string,int,Action{T}?)"/>.
    /// </summary>
    public TimeSpan PendingConnectTimeout
    {
        get => _pendingConnectTimeout;
        set => _pendingConnectTimeout = value > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "a connect timeout must be positive");
    }

    private TimeSpan _pendingConnectTimeout;

    /// <summary>
    /// Bytes given to <see cref="SendData(ReadOnlySpan{byte})"/> that the kernel has not taken yet
    /// (EventMachine's <c>get_outbound_data_size</c>). Exact inside hooks; a snapshot elsewhere.
    /// </summary>
    public long OutboundDataSize => _actor?.OutboundBytes ?? 0;

    /// <summary>
    /// False from when the output waiting for the peer (<see cref="OutboundDataSize"/>) rises above
    /// <c>packet.tcp.backpressure.high-water-mark</c> until the peer has taken it down to <c>low-water-mark</c>
    /// (Netty's <c>isWritable</c>); reading from the peer pauses meanwhile, and <see cref="OutboundDrained"/> is
    /// called as it turns true again. A handler that produces more than it was asked for (a large reply to a
    /// pipelined request, a file it streams) stops while it is false. Exact inside hooks; a snapshot elsewhere.
    /// </summary>
    public bool IsWritable => _actor?.AboveHighWater != true;

    /// <summary>
    /// Whether the answers to this connection's worker asks come in the order it asked, as a pipelined
    /// protocol (Redis' RESP, HTTP/1.1) must answer. Off (the default): each answer is handed over as soon
    /// as it comes, so a quick ask is not held up by a slow one. On: an answer that comes before those of
    /// earlier asks is held back until they are in; held-back answers still count as outstanding, so
    /// <c>packet.workers.max-asks-per-connection</c> bounds them and reading pauses at the bound. Applies
    /// to the asks made while it is set (both forms of <see cref="AskWorker(string, object?, string?, bool)"/>),
    /// in order among themselves; set it in <see cref="PostInit"/>.
    /// </summary>
    public bool OrderWorkerReplies { get; set; }

    /// <summary>
    /// What the TLS handshake agreed on (version, cipher suite, ALPN protocol, the peer's certificate), once it has completed:
    /// set before <see cref="TlsHandshakeCompleted"/> runs. <see langword="null"/> before that, and on a connection without TLS.
    /// </summary>
    public TlsSession? Tls { get; internal set; }

    /// <summary>True while <see cref="Pause"/> holds incoming data back.</summary>
    public bool IsPaused { get; internal set; }

    /// <summary>True once <see cref="PostInit"/> has run; a reconnect of the same instance skips it.</summary>
    internal bool Initialized { get; set; }

    // ---- hooks -------------------------------------------------------------------------------

    /// <summary>
    /// Called on the connection's actor when output that rose above <c>packet.tcp.backpressure.high-water-mark</c>
    /// has been taken by the peer down to <c>low-water-mark</c>: <see cref="IsWritable"/> is true again (Node's
    /// <c>'drain'</c>, Netty's <c>channelWritabilityChanged</c>). A handler that stopped producing while
    /// <see cref="IsWritable"/> was false resumes here, without polling <see cref="OutboundDataSize"/>. Called
    /// once per such fall, only if output is still below the high-water mark when it runs, and never once the
    /// connection is closing.
    /// </summary>
    protected virtual void OutboundDrained() { }

    /// <summary>
    /// Called once per instance, first, when the connection actor starts: for accepted connections
    /// the socket is already connected; for outbound ones the connect has not completed yet. A
    /// <see cref="Reactor.Reconnect{T}"/> of the same instance does not call it again.
    /// </summary>
    protected virtual void PostInit() { }

    /// <summary>
    /// Called once the TLS handshake begun by <see cref="StartTls(SslServerAuthenticationOptions)"/> (or a server's <c>tls</c>
    /// option) has completed, before any decrypted data (EventMachine's <c>ssl_handshake_completed</c>); <see cref="Tls"/> says
    /// what it agreed on. A handshake that fails or times out calls <see cref="Unbind"/> instead, with
    /// <see cref="UnbindKind.TlsHandshakeFailed"/>.
    /// </summary>
    protected virtual void TlsHandshakeCompleted() { }

    /// <summary>Called when an outbound connect succeeds, after <see cref="PostInit"/>. Never called for accepted connections.</summary>
    protected virtual void ConnectionCompleted() { }

    /// <summary>
    /// Called with bytes as they arrive, in arbitrary chunks: one <c>SendData</c> by the peer may arrive
    /// as several calls, and several as one. The memory is valid only during the call: copy what you keep.
    /// </summary>
    /// <param name="data">The bytes read; never empty.</param>
    protected virtual void ReceiveData(ReadOnlyMemory<byte> data) { }

    /// <summary>
    /// Called exactly once when the connection ends, whatever ended it (peer close, local close, error,
    /// refused or timed-out connect, inactivity, overflow, a throwing hook, reactor shutdown). No hook is
    /// called after it, and this instance's timers are cancelled.
    /// </summary>
    /// <param name="reason">What ended the connection.</param>
    protected virtual void Unbind(UnbindReason reason) { }

    /// <summary>
    /// Called on this connection's actor with the answer to each <see cref="AskWorker(string, object?, string?, bool)"/>
    /// made without a callback: the worker's reply, or the error that replaced it. Only the connection
    /// that asked ever receives it; if it has ended, the reply is dropped and counted in
    /// <see cref="Reactor.DroppedWorkerReplies"/>.
    /// </summary>
    /// <param name="reply">The answer.</param>
    protected virtual void WorkerReceive(WorkerReply reply) { }

    // ---- methods -----------------------------------------------------------------------------

    /// <summary>
    /// Hands <paramref name="data"/> to a worker (Packet's <c>ask_worker</c>). The answer arrives later
    /// in <see cref="WorkerReceive"/> on this same connection; failures (unknown worker, a payload type
    /// that is not allowed, a worker that died, threw or timed out) arrive there too, as error replies.
    /// </summary>
    /// <param name="worker">The worker name.</param>
    /// <param name="data">A payload of an allowed type (see <c>packet.workers.allowed-types</c>).</param>
    /// <param name="key">The worker's instance key, or <see langword="null"/>.</param>
    /// <param name="idempotent">
    /// Whether the ask may run twice. If the cluster host that holds it is lost before it answers, an idempotent
    /// ask is handed to another instance, once, within its first <c>ask-timeout</c>; any other ask fails with an
    /// error naming the host. An ask whose own WorkerHost process dies is not retried: it may be what killed it.
    /// </param>
    public void AskWorker(string worker, object? data, string? key = null, bool idempotent = false)
    {
        if (OwnActor() is { } actor) actor.AskWorker(worker, key, data, null, idempotent);
        else OnActor(AskLater(worker, key, data, null, idempotent));
    }

    /// <summary>
    /// As <see cref="AskWorker(string, object?, string?, bool)"/>, with the answer handed to <paramref name="callback"/>
    /// on this connection's actor instead of <see cref="WorkerReceive"/> (Packet's callback form).
    /// </summary>
    /// <param name="worker">The worker name.</param>
    /// <param name="data">A payload of an allowed type.</param>
    /// <param name="callback">Runs once with the answer; an exception closes the connection like a throwing hook.</param>
    /// <param name="key">The worker's instance key, or <see langword="null"/>.</param>
    /// <param name="idempotent">Whether the ask may run twice, and so be retried on another host (see <see cref="AskWorker(string, object?, string?, bool)"/>).</param>
    public void AskWorker(string worker, object? data, Action<WorkerReply> callback, string? key = null, bool idempotent = false)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (OwnActor() is { } actor) actor.AskWorker(worker, key, data, callback, idempotent);
        else OnActor(AskLater(worker, key, data, callback, idempotent));
    }

    /// <summary>An ask made off the connection's actor, to run on it; made only then, as its captures cost an allocation per call.</summary>
    private static Action<ConnectionActor> AskLater(string worker, string? key, object? data, Action<WorkerReply>? callback, bool idempotent) =>
        actor => actor.AskWorker(worker, key, data, callback, idempotent);


    /// <summary>
    /// Queues bytes for the peer. They are copied, so the caller may reuse its buffer at once. Data sent
    /// before an outbound connect completes is delivered after it. Output is flow-controlled: see
    /// <c>packet.tcp.backpressure</c>. After the connection has started closing, further data is
    /// discarded (and logged at debug level).
    /// </summary>
    /// <param name="data">The bytes to send.</param>
    public void SendData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (OwnActor() is { } actor)
            actor.Send(data); // copied once, into the socket's output
        else
            Queue(data.ToArray());
    }

    /// <summary>Queues the UTF-8 encoding of <paramref name="text"/>; otherwise as <see cref="SendData(ReadOnlySpan{byte})"/>.</summary>
    /// <param name="text">The text to send.</param>
    public void SendData(string text)
    {
        if (string.IsNullOrEmpty(text)) return;
        if (OwnActor() is not { } actor)
        {
            Queue(Encoding.UTF8.GetBytes(text));
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            actor.Send(buffer.AsSpan(0, Encoding.UTF8.GetBytes(text, buffer)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hands a fresh array, which nobody else holds, to the connection's actor from another thread.</summary>
    private void Queue(byte[] fresh) => OnActor(actor => actor.Send(fresh));

    /// <summary>
    /// Closes at once, discarding output not yet sent (the socket is reset). <see cref="Unbind"/> follows
    /// with <see cref="UnbindKind.LocalClose"/>. Calling it again, or after the connection ended, does nothing.
    /// </summary>
    public void CloseConnection() => OnActor(actor => actor.CloseLocally(afterWriting: false));

    /// <summary>
    /// Closes after <b>every</b> byte queued so far has been written to the socket, then sends FIN.
    /// Data arriving meanwhile is discarded. If the peer does not take the output within
    /// <c>packet.tcp.close-timeout</c>, the socket is reset and <see cref="Unbind"/> reports
    /// <see cref="UnbindKind.CloseTimeout"/> with the bytes left. Called on an outbound connection before
    /// it has connected, with data queued, the dial goes on (as in EventMachine): the data is written once
    /// it connects, and a dial that fails still ends with <see cref="UnbindKind.ConnectFailed"/> or
    /// <see cref="UnbindKind.ConnectTimeout"/>. With nothing queued, it closes without dialling.
    /// </summary>
    public void CloseConnectionAfterWriting() => OnActor(actor => actor.CloseLocally(afterWriting: true));

    /// <summary>
    /// Stops reading from the peer. Data already read is held back (not lost) and delivered after
    /// <see cref="Resume"/>. Output is unaffected. The kernel's buffers then fill and TCP flow control
    /// slows the peer down.
    /// </summary>
    public void Pause() => OnActor(actor => actor.Pause());

    /// <summary>Undoes <see cref="Pause"/>: held-back data is delivered first, then reading resumes.</summary>
    public void Resume() => OnActor(actor => actor.Resume());

    /// <summary>
    /// Goes on in TLS as the server side (EventMachine's <c>start_tls</c>): a handshake first, then every byte either way is
    /// encrypted, and <see cref="ReceiveData"/> gets the plaintext. Called in <see cref="PostInit"/>, the connection is in TLS
    /// from its first byte (a server's <c>tls</c> option does that for every connection); called later, as a STARTTLS
    /// command is answered, what was sent before goes first, in clear, and the peer must send nothing more in clear. Data
    /// sent before the handshake completes is sent after it. <see cref="TlsHandshakeCompleted"/> follows, or
    /// <see cref="Unbind"/> with <see cref="UnbindKind.TlsHandshakeFailed"/>.
    /// </summary>
    /// <param name="options">
    /// .NET's own: the certificate (<see cref="SslServerAuthenticationOptions.ServerCertificate"/>, loaded from a file with
    /// <c>X509CertificateLoader.LoadPkcs12FromFile</c> or taken from an <c>X509Store</c>), client certificates
    /// (<see cref="SslServerAuthenticationOptions.ClientCertificateRequired"/> and <c>RemoteCertificateValidationCallback</c>),
    /// ALPN (<see cref="SslServerAuthenticationOptions.ApplicationProtocols"/>), versions. One instance may serve every connection.
    /// </param>
    /// <exception cref="ArgumentException">The options name no certificate.</exception>
    /// <exception cref="InvalidOperationException">TLS has already started on this connection.</exception>
    public void StartTls(SslServerAuthenticationOptions options)
    {
        ValidTls(options);
        OnActor(actor => actor.StartTls(TlsSocket.AsServer(options)));
    }

    /// <summary>
    /// Goes on in TLS as the client side: as <see cref="StartTls(SslServerAuthenticationOptions)"/>, with the client's
    /// handshake. Called in <see cref="PostInit"/> or the init callback of <see cref="Reactor.Connect{T}(string,int,Action{T}?)"/>,
    /// the handshake starts as soon as the connect completes, and what is sent before goes after it, encrypted.
    /// </summary>
    /// <param name="options">
    /// .NET's own: <see cref="SslClientAuthenticationOptions.TargetHost"/>, the name the server's certificate must carry (and
    /// SNI); <c>RemoteCertificateValidationCallback</c> to trust a certificate the system does not; a client certificate;
    /// ALPN. The server's certificate is checked as the system checks it unless the callback decides.
    /// </param>
    /// <exception cref="InvalidOperationException">TLS has already started on this connection.</exception>
    public void StartTls(SslClientAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OnActor(actor => actor.StartTls(TlsSocket.AsClient(options)));
    }

    /// <summary>Refuses server options that name no certificate: every handshake would fail, one connection at a time.</summary>
    internal static void ValidTls(SslServerAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ServerCertificate is null && options.ServerCertificateContext is null && options.ServerCertificateSelectionCallback is null)
            throw new ArgumentException("TLS server options need a certificate: ServerCertificate, ServerCertificateContext or ServerCertificateSelectionCallback", nameof(options));
    }

    /// <summary>
    /// Runs <paramref name="callback"/> once, after <paramref name="delay"/>, on this connection's actor
    /// (so it may touch the handler's state freely). Cancelled when the connection ends.
    /// </summary>
    /// <param name="delay">How long to wait.</param>
    /// <param name="callback">What to run; an exception closes the connection like a throwing hook.</param>
    public TimerHandle AddTimer(TimeSpan delay, Action callback) => StartTimer(delay, periodic: false, callback);

    /// <summary>
    /// Runs <paramref name="callback"/> every <paramref name="interval"/> on this connection's actor until
    /// cancelled or until the connection ends.
    /// </summary>
    /// <param name="interval">The period.</param>
    /// <param name="callback">What to run; an exception closes the connection like a throwing hook.</param>
    public TimerHandle AddPeriodicTimer(TimeSpan interval, Action callback) => StartTimer(interval, periodic: true, callback);

    /// <summary>Cancels a timer of this connection; the same as <see cref="TimerHandle.Cancel"/>.</summary>
    /// <param name="timer">A handle from <see cref="AddTimer"/> or <see cref="AddPeriodicTimer"/>.</param>
    public void CancelTimer(TimerHandle timer) => timer.Cancel();

    private TimerHandle StartTimer(TimeSpan interval, bool periodic, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "a timer interval must be positive");
        var handle = new TimerHandle(Interlocked.Increment(ref _nextTimerId), interval, periodic,
            h => OnActor(actor => actor.CancelTimer(h)));
        OnActor(actor => actor.StartTimer(handle, callback));
        return handle;
    }

    // ---- what the hosting actor calls ---------------------------------------------------------

    internal void InvokePostInit() => PostInit();

    internal void InvokeConnectionCompleted() => ConnectionCompleted();

    internal void InvokeReceiveData(ReadOnlyMemory<byte> data) => ReceiveData(data);

    internal void InvokeOutboundDrained() => OutboundDrained();

    internal void InvokeTlsHandshakeCompleted() => TlsHandshakeCompleted();

    internal void InvokeUnbind(UnbindReason reason) => Unbind(reason);

    internal void InvokeWorkerReceive(WorkerReply reply) => WorkerReceive(reply);

    // ---- binding to the hosting actor ---------------------------------------------------------

    /// <summary>Called where the hosting actor is spawned, before it can start.</summary>
    internal void Prepare(ReactorRuntime runtime)
    {
        if (!Initialized)
        {
            _inactivityTimeout = runtime.Settings.InactivityTimeout;
            _pendingConnectTimeout = runtime.Settings.ConnectTimeout;
        }
        Reactor = runtime.Reactor;
        Limits = runtime.Limits;
        _prepared = true;
    }

    /// <summary>Called right after the spawn, so calls from other threads can be queued to the actor at once.</summary>
    internal void Attach(IActorRef self) => SetSelf(self);

    /// <summary>Called by the hosting actor when it starts (possibly before <see cref="Attach"/> returns).</summary>
    internal void Bind(ConnectionActor actor, IActorRef self)
    {
        _actorSelf = self;
        _actor = actor;
        SetSelf(self);
    }

    /// <summary>
    /// Publishes the actor's address. Calls made between <see cref="Prepare"/> and now (a factory's
    /// handler is visible to the test or app before its actor exists) are queued to it first, in order.
    /// </summary>
    private void SetSelf(IActorRef self)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_self, self)) return;
            if (_early is not null)
            {
                foreach (var action in _early) self.Tell(new ConnectionActor.Run(action));
                _early = null;
            }
            // Published only now: a caller on another thread that sees it (without the lock) sends
            // after every early call, never between them.
            _self = self;
        }
    }

    internal bool IsAttached => _self is not null;

    /// <summary>The hosting actor when the caller runs on it (in a hook, a timer or a reply), else null.</summary>
    private ConnectionActor? OwnActor() =>
        _actor is { } actor && Equals(InternalCurrentActorCellKeeper.Current?.Self, _actorSelf) ? actor : null;

    private void OnActor(Action<ConnectionActor> action)
    {
        if (OwnActor() is { } actor)
        {
            action(actor);
            return;
        }
        var self = _self;
        if (self is null)
        {
            lock (_gate)
            {
                if (_self is null)
                {
                    if (!_prepared)
                        throw new InvalidOperationException(
                            $"{GetType().Name} is not attached to a reactor: return it from a server's factory or pass it to Reactor.Connect first");
                    (_early ??= []).Add(action);
                    return;
                }
                self = _self;
            }
        }
        self.Tell(new ConnectionActor.Run(action));
    }
}
