using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Packet.Io.Flow;
using Packet.Io.Framing;
using Packet.Io.Transports;
using Packet.Io.Transports.Tls;

namespace Packet.Actors.Runtime;

/// <summary>
/// Hosts one <see cref="Connection"/> handler and owns its socket, whichever transport runs it. Socket
/// events come in as <see cref="SocketEvents"/> and become handler hooks; handler calls become calls on
/// the <see cref="ISocketConnection"/>.
/// </summary>
/// <remarks>
/// Reading runs in pull mode: exactly one read is requested at a time, and only while the
/// handler is not paused and the output is below its high-water mark. So neither a slow handler nor
/// a slow peer makes this actor buffer without bound. Received bytes go to the handler in the transport's
/// own memory; sent bytes are copied once, into the transport's. Writes made during one message go out
/// as one <see cref="ISocketConnection.Flush"/>, whose acknowledgement (at once, or a later <see cref="SocketEvents.Written"/>) drains the <see cref="OutboundWindow"/>.
/// <para>
/// States, each a method whose data are its parameters: <see cref="Connecting(Dial, object)"/> (outbound only),
/// <see cref="ConnectingToClose(Dial, UnbindReason, object)"/> (outbound, closed after writing before it connected),
/// <see cref="Connected(ISocketConnection, ByteString, object)"/>, <see cref="PeerFinished(ISocketConnection, ByteString, object)"/>
/// (the peer sent FIN; open until its worker asks are answered), <see cref="Disconnecting(ISocketConnection, UnbindReason, bool, object)"/>
/// (a close began in this message), <see cref="Closing(ISocketConnection, UnbindReason, bool, object)"/> and <see cref="Ended"/>.
/// The handler's calls come in the middle of a state's message, not as messages, so what they must know of the
/// state, and whether a read is out, is one value beside the states: <see cref="Stage"/>.
/// </para>
/// <para>
/// With TLS (<see cref="StartTls"/>, or a server's option) the socket is a <see cref="TlsSocket"/> over the transport's: every
/// message passes its <see cref="TlsSocket.Translate"/> first, so the states see plaintext events as they would see the socket's.
/// </para>
/// </remarks>
internal sealed class ConnectionActor : ActorBase, IWithTimers
{
    /// <summary>Where the connection comes from.</summary>
    internal abstract record Origin;

    /// <summary>An accepted connection, already connected and waiting for <see cref="ISocketConnection.Register"/>; in TLS from the start with <paramref name="Tls"/>.</summary>
    internal sealed record Accepted(ISocketConnection Socket, SslServerAuthenticationOptions? Tls) : Origin;

    /// <summary>An outbound connection still to be dialled; one not <paramref name="Admitted"/> (the reactor held its most connections) fails at once instead.</summary>
    internal sealed record Dial(string Host, int Port, bool Admitted) : Origin;

    /// <summary>A handler call made off this actor's thread, queued here.</summary>
    internal sealed record Run(Action<ConnectionActor> Action);

    /// <summary>The reactor or this connection's server is stopping: close gracefully, delivering what is queued.</summary>
    internal sealed record Shutdown(UnbindReason Reason);

    /// <summary>
    /// The reactor is stopping and waits for the worker asks in flight: read no more (as <see cref="Connection.Pause"/>),
    /// so no new ask starts, and every ask already made is answered before <see cref="Shutdown"/> closes the connection.
    /// </summary>
    internal sealed class StopReading
    {
        public static readonly StopReading Instance = new();
    }

    private sealed record Resolved(IPAddress[] Addresses);

    private sealed record Finish(UnbindReason Reason);

    private sealed class ConnectTimedOut
    {
        public static readonly ConnectTimedOut Instance = new();
    }

    private sealed class InactivityCheck
    {
        public static readonly InactivityCheck Instance = new();
    }

    private sealed class CloseTimedOut
    {
        public static readonly CloseTimedOut Instance = new();
    }

    private sealed class DeliverHeldBack
    {
        public static readonly DeliverHeldBack Instance = new();
    }

    /// <summary>Output fell back to its low-water mark: the handler's <see cref="Connection.OutboundDrained"/> is due.</summary>
    private sealed class OutboundBelowLowWater
    {
        public static readonly OutboundBelowLowWater Instance = new();
    }

    /// <summary>
    /// Not a message: after each message (and after an accepted connection's <see cref="PreStart"/>) the actor hands
    /// it to the state that message left it in, which finishes it: sends what the handler wrote, asks for the next
    /// read, or closes the socket.
    /// </summary>
    private sealed class EndOfMessage
    {
        public static readonly EndOfMessage Instance = new();
    }

    /// <summary>Not a message: <see cref="StartTls"/> hands it to the state, which goes on over <paramref name="Socket"/>.</summary>
    private sealed record TlsStarted(TlsSocket Socket);

    /// <summary>Not a message: <see cref="Resume"/> hands it to the state, so that a state holding input back hands it over.</summary>
    private sealed class Resumed
    {
        public static readonly Resumed Instance = new();
    }

    /// <summary>
    /// How far the connection has got, for the code that runs in the middle of a state's message rather than as a
    /// message of its own: the handler's calls, hooks and deliveries. It also says whether a read is out, which
    /// changes on every read: kept as states, that would cost a new closure per read. In the order a connection
    /// goes through them.
    /// </summary>
    private enum Stage : byte
    {
        /// <summary>Output is taken (set aside until an outbound connect completes) and input handed over; no read is out.</summary>
        Open,

        /// <summary>As <see cref="Open"/>, with one read out.</summary>
        Reading,

        /// <summary>A close has begun: output is discarded, received bytes and worker answers are dropped.</summary>
        Closing,

        /// <summary>Unbind has run: no hook or timer runs any more.</summary>
        Unbound,
    }

    private readonly Connection _handler;
    private readonly Action<WorkerReply> _workerReceive; // the handler's WorkerReceive, made once: a method group allocates on every use
    private readonly Origin _origin;
    private readonly Action<Connection>? _init;
    private readonly ReactorRuntime _runtime;
    private readonly OutboundWindow _window;
    private readonly CallbackTimers _timers = new();
    private WorkerAsks? _asks; // made by the first AskWorker: most connections never ask

    private CancellationTokenSource? _dialling; // outbound only: cancels a dial this actor no longer wants
    private ISocketConnection? _socket; // from Attach on: the handler's sends write to it, and PostStop releases it whatever the state
    private readonly long _startedAt; // Stopwatch time the actor began: the connection's duration counts from here
    private ArrayBufferWriter<byte>? _unattached; // output sent before an outbound connect completes
    private Func<SslStream, CancellationToken, Task>? _tlsAtAttach; // the handshake TLS starts with once the socket is connected
    private Stage _stage;
    private long _lastActivity = Environment.TickCount64;
    private Func<object, bool> _state = _ => false; // set in PreStart

    public ConnectionActor(Connection handler, Origin origin, Action<Connection>? init, ReactorRuntime runtime)
    {
        _handler = handler;
        _workerReceive = handler.InvokeWorkerReceive;
        _origin = origin;
        _init = init;
        _runtime = runtime;
        _startedAt = Stopwatch.GetTimestamp();
        var settings = runtime.Settings;
        _window = new OutboundWindow(settings.HighWaterMark, settings.LowWaterMark, settings.MaxOutbound);
        handler.Bind(this, Self);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public long OutboundBytes => _window.Outbound;

    /// <summary>Whether output is above its high-water mark (and has not fallen back to its low-water mark).</summary>
    public bool AboveHighWater => _window.IsAboveHighWater;

    /// <summary>Whether to ask for the next read: the handler is not paused, output is below its high-water mark, and fewer than <c>max-asks-per-connection</c> worker asks are outstanding.</summary>
    private bool CanRead => !_handler.IsPaused && !_window.IsAboveHighWater && (_asks?.Outstanding ?? 0) < _runtime.MaxAsksPerConnection;

    // ---- lifecycle ---------------------------------------------------------------------------

    protected override void PreStart()
    {
        switch (_origin)
        {
            case Accepted accepted:
                if (accepted.Tls is { } tls) _tlsAtAttach = TlsSocket.AsServer(tls);
                Become(Connected(Attach(accepted.Socket), heldBack: null));
                Initialize();
                SendAsks();
                RestartInactivityTimer();
                _state(EndOfMessage.Instance);
                break;
            case Dial dial:
                _dialling = new CancellationTokenSource();
                Become(Connecting(dial));
                Initialize();
                SendAsks();
                if (_stage >= Stage.Closing) return;
                if (!dial.Admitted)
                {
                    Self.Tell(new Finish(new UnbindReason(UnbindKind.ConnectFailed, $"not dialled: {_runtime.AtMaxConnections}")));
                    return;
                }
                Timers.StartSingleTimer(ConnectTimedOut.Instance, ConnectTimedOut.Instance, _handler.PendingConnectTimeout);
                if (IPAddress.TryParse(dial.Host, out var address))
                    Self.Tell(new Resolved([address]));
                else
                    System.Net.Dns.GetHostAddressesAsync(dial.Host).PipeTo(Self, success: addresses => new Resolved(addresses));
                break;
        }
    }

    /// <summary>Runs <see cref="Connection.PostInit"/> (once per instance) and then the per-connection callback.</summary>
    private void Initialize()
    {
        if (!_handler.Initialized)
        {
            _handler.Initialized = true;
            Hook(static handler => handler.InvokePostInit(), _handler, "PostInit");
        }
        if (_init is { } init && _stage < Stage.Closing) Hook(init, _handler, "the per-connection callback");
    }

    protected override void PostStop()
    {
        _dialling?.Cancel();
        _dialling?.Dispose();
        _socket?.Abort(); // releases the socket whatever ended this actor; a closed one ignores it
        _runtime.Release();
        if (_stage != Stage.Unbound) DeliverUnbind(new UnbindReason(UnbindKind.Shutdown, "the reactor stopped"));
        SendAsks(); // the asks made in the last hooks, Unbind included: their replies are dropped as the others'
        if (_asks?.GiveUp() is > 0 and var outstanding)
        {
            // Their answers can no longer be delivered: count them once, here, and have the registry drop
            // those still waiting for a worker, and the replies to the rest when they come back.
            _runtime.AsksEnded(outstanding);
            _runtime.Workers?.CountDroppedReplies(outstanding);
            _runtime.WorkersActor?.Tell(new Workers.WorkersActor.AskerGone(Self));
        }
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        var translated = _runtime.Transport.Translate(message, Sender);
        if (_socket is TlsSocket tls) translated = tls.Translate(translated);
        var handled = translated is null || base.AroundReceive(receive, translated); // null: consumed by TLS
        SendAsks();
        _state(EndOfMessage.Instance);
        return handled;
    }

    protected override bool Receive(object message) => _state(message);

    // ---- states ------------------------------------------------------------------------------
    // Each state is a method that handles a message, with the state's data as parameters, and an overload
    // without the message that makes the delegate Become takes. The delegate is made there rather than by a
    // lambda in the state: a lambda that captures the state's parameters has the compiler allocate its
    // closure on every call of the state, that is on every message.

    private Func<object, bool> Connecting(Dial dial) => message => Connecting(dial, message);

    /// <summary>Outbound: resolving the host, then waiting for the transport's <see cref="SocketEvents.Connected"/>.</summary>
    private bool Connecting(Dial dial, object message)
    {
        switch (message)
        {
            case Resolved resolved:
                var address = resolved.Addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                              ?? resolved.Addresses.FirstOrDefault();
                if (address is null)
                {
                    Self.Tell(new Finish(new UnbindReason(UnbindKind.ConnectFailed, $"host '{dial.Host}' has no address")));
                    return true;
                }
                _runtime.Transport.Connect(Self, new IPEndPoint(address, dial.Port), _handler.PendingConnectTimeout, _dialling!.Token);
                return true;
            case Status.Failure failure:
                Finished(new UnbindReason(UnbindKind.ConnectFailed, $"cannot resolve host '{dial.Host}': {failure.Cause.Message}", failure.Cause));
                return true;
            case SocketEvents.Connected connected:
                Timers.Cancel(ConnectTimedOut.Instance);
                Become(Connected(Attach(connected.Socket), heldBack: null));
                RestartInactivityTimer();
                Hook(static handler => handler.InvokeConnectionCompleted(), _handler, "ConnectionCompleted");
                return true;
            case SocketEvents.ConnectFailed failed:
                Finished(new UnbindReason(UnbindKind.ConnectFailed, $"could not connect to {dial.Host}:{dial.Port}: {failed.Cause.Message}", failed.Cause));
                return true;
            case ConnectTimedOut:
                Finished(new UnbindReason(UnbindKind.ConnectTimeout,
                    $"connect to {dial.Host}:{dial.Port} did not complete within {_handler.PendingConnectTimeout}"));
                return true;
            default:
                return Common(message);
        }
    }

    private Func<object, bool> ConnectingToClose(Dial dial, UnbindReason reason) => message => ConnectingToClose(dial, reason, message);

    /// <summary>
    /// Outbound, closed after writing before it connected, with output queued: the dial goes on, as in
    /// EventMachine, and once connected the queued output is written and the connection closes. A dial
    /// that fails or times out ends it as <see cref="Connecting(Dial, object)"/> would.
    /// </summary>
    private bool ConnectingToClose(Dial dial, UnbindReason reason, object message)
    {
        if (message is not SocketEvents.Connected connected) return Connecting(dial, message);
        Timers.Cancel(ConnectTimedOut.Instance);
        var socket = Attach(connected.Socket);
        Hook(static handler => handler.InvokeConnectionCompleted(), _handler, "ConnectionCompleted");
        Flush(socket);
        CloseSocket(socket, reason, graceful: true);
        return true;
    }

    private Func<object, bool> Connected(ISocketConnection socket, ByteString? heldBack) => message => Connected(socket, heldBack, message);

    /// <summary>
    /// The socket is open: data flows both ways. <paramref name="heldBack"/> is what arrived while the handler
    /// was paused, copied aside until it resumes.
    /// </summary>
    private bool Connected(ISocketConnection socket, ByteString? heldBack, object message)
    {
        switch (message)
        {
            case SocketEvents.Received received:
                _stage = Stage.Open; // the read is spent; the end of this message asks for the next
                _lastActivity = Environment.TickCount64;
                _runtime.Metrics.Received(received.Data.Length);
                if (Deliver(received.Data) is { } left) Become(Connected(socket, heldBack is null ? left : heldBack.Concat(left)));
                return true;
            case SocketEvents.Written written:
                Acknowledge(written.Bytes);
                return true;
            case DeliverHeldBack:
                if (heldBack is not null && !_handler.IsPaused)
                {
                    Become(Connected(socket, heldBack: null));
                    if (Deliver(new ReadOnlySequence<byte>(heldBack.ToArray())) is { } rest) Become(Connected(socket, rest));
                }
                return true;
            case Resumed:
                if (heldBack is not null) Self.Tell(DeliverHeldBack.Instance);
                return true;
            case TlsStarted started:
                Become(Connected(started.Socket, heldBack));
                return true;
            case InactivityCheck:
                CheckInactivity();
                return true;
            case SocketEvents.PeerClosed:
                // The peer will send no more, but may still read: answer what it asked, then close.
                _stage = Stage.Open; // the read is spent, and no other is asked for
                Become(PeerFinished(socket, heldBack));
                CloseIfAnswered();
                return true;
            case SocketEvents.Closed closed:
                Finished(new UnbindReason(UnbindKind.Error, $"the connection failed: {closed.Error ?? "closed"}"));
                return true;
            case EndOfMessage:
                Flush(socket);
                RequestRead(socket);
                return true;
            default:
                return Common(message);
        }
    }

    private Func<object, bool> PeerFinished(ISocketConnection socket, ByteString? heldBack) => message => PeerFinished(socket, heldBack, message);

    /// <summary>
    /// The peer shut down its sending side (<c>printf ... | nc</c>): as <see cref="Connected(ISocketConnection, ByteString, object)"/>,
    /// but nothing more is read, and the connection stays open only until every worker ask it made is answered
    /// and written; then it closes with PeerClosed.
    /// </summary>
    private bool PeerFinished(ISocketConnection socket, ByteString? heldBack, object message)
    {
        switch (message)
        {
            case Workers.WorkersActor.Answer or Workers.WorkersActor.Answers:
                if (!Common(message)) return false;
                CloseIfAnswered();
                return true;
            case DeliverHeldBack:
                if (heldBack is not null && !_handler.IsPaused)
                {
                    Become(PeerFinished(socket, heldBack: null));
                    if (Deliver(new ReadOnlySequence<byte>(heldBack.ToArray())) is { } rest) Become(PeerFinished(socket, rest));
                }
                return true;
            case TlsStarted started:
                Become(PeerFinished(started.Socket, heldBack));
                return true;
            case EndOfMessage:
                Flush(socket);
                return true;
            default:
                return Connected(socket, heldBack, message);
        }
    }

    private Func<object, bool> Disconnecting(ISocketConnection socket, UnbindReason reason, bool graceful) =>
        message => Disconnecting(socket, reason, graceful, message);

    /// <summary>
    /// A close began during this message: once it is handled, the socket is closed (or reset), and the close goes
    /// on as <see cref="Closing(ISocketConnection, UnbindReason, bool, object)"/>. Not before: a handler that closes its
    /// connection inside <c>ReceiveData</c> may go on reading its data, which stays the transport's memory until then.
    /// </summary>
    private bool Disconnecting(ISocketConnection socket, UnbindReason reason, bool graceful, object message)
    {
        if (message is not EndOfMessage) return Closing(socket, reason, graceful, message);
        Become(Closing(socket, reason, graceful));
        if (graceful)
            socket.Close();
        else
            socket.Abort();
        return true;
    }

    private Func<object, bool> Closing(ISocketConnection? socket, UnbindReason reason, bool graceful) =>
        message => Closing(socket, reason, graceful, message);

    /// <summary>A local close is under way; waiting for the transport to confirm, at most <c>close-timeout</c>. Without a <paramref name="socket"/>, for the <see cref="Finish"/> already sent.</summary>
    private bool Closing(ISocketConnection? socket, UnbindReason reason, bool graceful, object message)
    {
        switch (message)
        {
            case SocketEvents.Written written:
                _window.Acknowledge(written.Bytes);
                return true;
            case SocketEvents.Closed closed:
                Finished(graceful && closed.Error is { } error
                    ? new UnbindReason(UnbindKind.Error, $"closing failed with {_window.Outbound} bytes unsent: {error}")
                    : reason);
                return true;
            case CloseTimedOut:
                socket?.Abort();
                Finished(graceful
                    ? new UnbindReason(UnbindKind.CloseTimeout,
                        $"the peer took no more output for {_runtime.Settings.CloseTimeout}; {_window.Outbound} bytes were left unsent")
                    : reason);
                return true;
            case SocketEvents.Connected late:
                late.Socket.Abort(); // dialled after this close began: nobody wants it
                return true;
            case SocketEvents.PeerClosed:
                // Input that was on its way, dropped; but Akka.IO (1.5) forgets a close that waits for a write to finish
                // when the peer's FIN is read meanwhile (it reports PeerClosed instead), so the close is asked again.
                if (graceful) socket?.Close();
                return true;
            case SocketEvents.Received:
                return true; // input that was on its way: dropped
            case Resolved:
            case Status.Failure:
            case SocketEvents.ConnectFailed:
            case ConnectTimedOut:
            case InactivityCheck:
            case DeliverHeldBack:
                return true; // events of the phase this close cut short
            default:
                return Common(message);
        }
    }

    /// <summary>Unbind has run and the actor is stopping: no message comes after this one, whose end has nothing left to do.</summary>
    private static bool Ended(object message) => false;

    /// <summary>Messages every state handles.</summary>
    private bool Common(object message)
    {
        switch (message)
        {
            case Run run:
                Hook(run.Action, this, "a queued call");
                return true;
            case CallbackTimers.Fired fired:
                if (_timers.Take(fired) is { } callback) Hook(static callback => callback(), callback, "a timer callback");
                return true;
            case Finish finish:
                Finished(finish.Reason);
                return true;
            case Shutdown shutdown:
                Close(shutdown.Reason, graceful: true);
                return true;
            case StopReading:
                Pause();
                return true;
            case SocketEvents.TlsEstablished established:
                if (_stage >= Stage.Closing) return true;
                _handler.Tls = new TlsSession(established.Protocol, established.CipherSuite, established.ApplicationProtocol, established.RemoteCertificate);
                Hook(static handler => handler.InvokeTlsHandshakeCompleted(), _handler, "TlsHandshakeCompleted");
                return true;
            case SocketEvents.TlsFailed failed:
                if (_stage >= Stage.Closing)
                    _socket?.Abort(); // a graceful close waits for the handshake, which is over
                else
                    Close(new UnbindReason(UnbindKind.TlsHandshakeFailed, failed.Reason, failed.Cause), graceful: false);
                return true;
            case OutboundBelowLowWater:
                if (_stage < Stage.Closing && !_window.IsAboveHighWater)
                    Hook(static handler => handler.InvokeOutboundDrained(), _handler, "OutboundDrained");
                return true;
            case Workers.WorkersActor.Answer answer when _asks is not null:
                Answered(answer);
                return true;
            case Workers.WorkersActor.Answers answers when _asks is not null:
                foreach (var answer in answers.Items) Answered(answer);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Hands a worker's answer to the handler (or drops it, while closing), once those asked before it are in if it was asked in order.</summary>
    private void Answered(Workers.WorkersActor.Answer answer)
    {
        if (_asks!.Arrived(answer)) HandOver(answer);
        while (_asks.TakeReleased() is { } next) HandOver(next);
    }

    private void HandOver(Workers.WorkersActor.Answer answer)
    {
        _runtime.AsksEnded(1);
        if (_stage >= Stage.Closing)
        {
            _runtime.Workers?.CountDroppedReplies(1);
            _runtime.Log.Debug("dropped the reply of {Worker} to a connection that is closing", answer.Worker);
            return;
        }
        Hook((answer.Context as WorkerAsks.Ticket)?.Callback ?? _workerReceive, _runtime.ToReply(answer), "WorkerReceive");
    }

    /// <summary>
    /// Switches state. The current state is a field rather than Akka's behaviour stack: the stack's first
    /// <c>Become</c> gives the actor a full state record with death-watch tables, about 400 bytes that
    /// every idle connection would carry.
    /// </summary>
    private void Become(Func<object, bool> state) => _state = state;

    // ---- operations called by the handler (on this actor) --------------------------------------

    /// <summary>Copies <paramref name="bytes"/> into the socket's output (or, before an outbound connect completes, aside); they go out when this message ends.</summary>
    public void Send(ReadOnlySpan<byte> bytes)
    {
        if (_stage >= Stage.Closing)
        {
            _runtime.Log.Debug("discarding {Bytes} bytes sent to a closing connection", bytes.Length);
            return;
        }
        if (!_window.Fits(bytes.Length))
        {
            // Logged here, once: the close that follows makes every later Send return above.
            var overflow = new UnbindReason(UnbindKind.OutboundOverflow,
                $"sending {bytes.Length} more bytes would exceed packet.tcp.backpressure.max-outbound ({_runtime.Settings.MaxOutbound} bytes) with {_window.Outbound} bytes unsent");
            _runtime.Log.Warning("{Connection} to {Peer} closed with OutboundOverflow: {Reason}", _handler.GetType().Name, _handler.PeerEndPoint?.ToString() ?? "a peer not yet connected", overflow.Message);
            Close(overflow, graceful: false);
            return;
        }
        _window.Add(bytes.Length);
        _runtime.Metrics.Sent(bytes.Length);
        if (_socket is { } socket)
            socket.Write(bytes);
        else
            (_unattached ??= new()).Write(bytes);
    }

    public void AskWorker(string worker, string? key, object? data, Action<WorkerReply>? callback, bool idempotent)
    {
        var id = _runtime.NextRequestId();
        var ticket = (_asks ??= new()).Next(callback, _handler.OrderWorkerReplies);
        _runtime.AskSent();
        if (_runtime.Workers is not { } workers || _runtime.WorkersActor is not { } registry)
        {
            Self.Tell(new Workers.WorkersActor.Answer(id, worker, key, ticket, null,
                "workers are not enabled: set packet.workers.root or packet.workers.types, or packet.workers.enabled = on"));
            return;
        }
        try
        {
            _asks.Add(new Workers.WorkersActor.Ask(id, worker, key, workers.Payloads.Serialize(data), Stopwatch.GetTimestamp(), Lasting: true, ticket, idempotent)); // sent when this message is handled
        }
        catch (Workers.Protocol.PayloadException e)
        {
            Self.Tell(new Workers.WorkersActor.Answer(id, worker, key, ticket, null, e.Message));
        }
    }

    /// <summary>Sends the worker asks made while handling the current message to the registry, in one message.</summary>
    private void SendAsks()
    {
        if (_asks is not null && _runtime.WorkersActor is { } registry) _asks.SendTo(registry, Self);
    }

    public void CloseLocally(bool afterWriting) =>
        Close(new UnbindReason(UnbindKind.LocalClose, afterWriting ? "closed after writing" : "closed by the handler"), graceful: afterWriting);

    public void Pause() => _handler.IsPaused = true;

    /// <summary>
    /// Goes on in TLS, with <paramref name="authenticate"/> as its handshake: at once when connected (what was sent
    /// before goes first, in clear), else as soon as the socket connects.
    /// </summary>
    public void StartTls(Func<SslStream, CancellationToken, Task> authenticate)
    {
        if (_stage >= Stage.Closing) return;
        if (_socket is TlsSocket || _tlsAtAttach is not null) throw new InvalidOperationException("TLS has already started on this connection");
        if (_socket is not { } socket)
        {
            _tlsAtAttach = authenticate;
            return;
        }
        Flush(socket); // a STARTTLS reply goes out in clear, before the handshake
        var tls = new TlsSocket(socket, Self, authenticate, _runtime.Settings.TlsHandshakeTimeout, _window.Outbound, innerReading: _stage == Stage.Reading);
        _stage = Stage.Open; // a read that was out is the handshake's now; the end of this message asks for plaintext
        _socket = tls;
        tls.Register(Self);
        _state(new TlsStarted(tls));
    }

    public void Resume()
    {
        if (!_handler.IsPaused) return;
        _handler.IsPaused = false;
        _state(Resumed.Instance);
    }

    public void StartTimer(TimerHandle handle, Action callback)
    {
        if (_stage != Stage.Unbound) _timers.Start(Timers, handle, callback);
    }

    public void CancelTimer(TimerHandle handle) => _timers.Cancel(Timers, handle);

    public void RestartInactivityTimer()
    {
        _lastActivity = Environment.TickCount64;
        if (_handler.InactivityTimeout is { } timeout && _socket is not null && _stage < Stage.Closing)
            Timers.StartSingleTimer(InactivityCheck.Instance, InactivityCheck.Instance, timeout);
        else
            Timers.Cancel(InactivityCheck.Instance);
    }

    // ---- internals ---------------------------------------------------------------------------

    /// <summary>
    /// Hands received bytes to the handler, a call per buffer, in the memory the transport lent them in.
    /// Returns what is left when the handler pauses, copied, for the state to hold back until it resumes;
    /// <see langword="null"/> when everything was handed over, or dropped because the connection began to close.
    /// </summary>
    private ByteString? Deliver(ReadOnlySequence<byte> data)
    {
        var position = data.Start;
        var next = position;
        while (data.TryGet(ref next, out var buffer))
        {
            if (_stage >= Stage.Closing) return null;
            if (_handler.IsPaused) return ByteString.FromBytes(data.Slice(position).ToArray());
            if (!buffer.IsEmpty) Hook(static read => read.Handler.InvokeReceiveData(read.Data), (Handler: _handler, Data: buffer), "ReceiveData");
            position = next;
        }
        return null;
    }

    private void CheckInactivity()
    {
        if (_handler.InactivityTimeout is not { } timeout) return;
        var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - _lastActivity);
        if (idle >= timeout)
            Close(new UnbindReason(UnbindKind.InactivityTimeout, $"no data for {timeout}"), graceful: true);
        else
            Timers.StartSingleTimer(InactivityCheck.Instance, InactivityCheck.Instance, timeout - idle);
    }

    /// <summary>The peer has finished: closes with PeerClosed once no worker ask this connection made is outstanding.</summary>
    private void CloseIfAnswered()
    {
        if ((_asks?.Outstanding ?? 0) == 0)
            Close(new UnbindReason(UnbindKind.PeerClosed, "the peer closed the connection"), graceful: true);
    }

    /// <summary>Starts a local close. Unbind follows when the transport confirms, so it never runs inside another hook.</summary>
    private void Close(UnbindReason reason, bool graceful)
    {
        if (_stage >= Stage.Closing) return;
        if (graceful && _socket is { } open) Flush(open);
        _stage = Stage.Closing;
        Timers.Cancel(InactivityCheck.Instance);
        if (graceful && _socket is null && _unattached is not null && _origin is Dial dial)
        {
            Become(ConnectingToClose(dial, reason));
            return;
        }
        _unattached = null;
        Timers.Cancel(ConnectTimedOut.Instance);
        if (_socket is { } socket)
        {
            CloseSocket(socket, reason, graceful);
            return;
        }
        Self.Tell(new Finish(reason));
        Become(Closing(socket: null, reason, graceful));
    }

    /// <summary>Closes (or resets) the socket once this message is handled, and waits for the transport to confirm, at most <c>close-timeout</c>.</summary>
    private void CloseSocket(ISocketConnection socket, UnbindReason reason, bool graceful)
    {
        Timers.StartSingleTimer(CloseTimedOut.Instance, CloseTimedOut.Instance, _runtime.Settings.CloseTimeout);
        Become(Disconnecting(socket, reason, graceful));
    }

    /// <summary>The one place that ends the connection: Unbind exactly once, then stop.</summary>
    private void Finished(UnbindReason reason)
    {
        if (_stage == Stage.Unbound) return;
        // With both ends in one stopping reactor, the peer's socket may close first: that is still the shutdown.
        if (_runtime.IsStopping && reason.Kind is UnbindKind.PeerClosed or UnbindKind.Error)
            reason = new UnbindReason(UnbindKind.Shutdown, $"the reactor stopped ({reason.Message})");
        _unattached = null;
        Become(Ended);
        DeliverUnbind(reason);
        Context.Stop(Self);
    }

    private void DeliverUnbind(UnbindReason reason)
    {
        _stage = Stage.Unbound;
        _timers.Clear();
        _runtime.Metrics.ConnectionEnded(_startedAt, reason.Kind);
        try
        {
            _handler.InvokeUnbind(reason);
        }
        catch (Exception e)
        {
            _runtime.ReportError(_handler, e, "Unbind");
        }
    }

    /// <summary>
    /// Runs handler code with its <paramref name="argument"/>. Hooks run for every read, so callers pass
    /// static lambdas and arguments instead of closures. A hook that throws closes the connection.
    /// </summary>
    private void Hook<T>(Action<T> hook, T argument, string name)
    {
        if (_stage == Stage.Unbound) return;
        try
        {
            hook(argument);
        }
        catch (FramingException e)
        {
            _runtime.Log.Warning("{Connection}: {Reason}; closing the connection", _handler.GetType().Name, e.Message);
            Close(new UnbindReason(UnbindKind.ProtocolError, e.Message, e), graceful: false);
        }
        catch (Exception e)
        {
            _runtime.ReportError(_handler, e, name);
            Close(new UnbindReason(UnbindKind.HandlerException, $"{name} threw {e.GetType().Name}: {e.Message}", e), graceful: false);
        }
    }

    private void Flush(ISocketConnection socket)
    {
        if (socket.Flush() is > 0 and var taken) Acknowledge(taken);
    }

    /// <summary>The transport took <paramref name="bytes"/> of output: they leave the window, and the connection was active.</summary>
    private void Acknowledge(int bytes)
    {
        // The handler hears of it in a message of its own, whose end flushes what OutboundDrained sends.
        if (_window.Acknowledge(bytes)) Self.Tell(OutboundBelowLowWater.Instance);
        _lastActivity = Environment.TickCount64;
    }

    /// <summary>Asks for the next read, if none is out and the handler can take more.</summary>
    private void RequestRead(ISocketConnection socket)
    {
        if (_stage != Stage.Open || !CanRead) return;
        _stage = Stage.Reading;
        socket.ResumeReading();
    }

    /// <summary>Takes the connected socket: its events come here from now on. Returns the socket to use: a TLS one over it, if TLS was asked for.</summary>
    private ISocketConnection Attach(ISocketConnection socket)
    {
        socket.Register(Self);
        if (_tlsAtAttach is { } authenticate)
        {
            _tlsAtAttach = null;
            socket = new TlsSocket(socket, Self, authenticate, _runtime.Settings.TlsHandshakeTimeout, clearInFlight: 0, innerReading: false);
            socket.Register(Self);
        }
        _socket = socket;
        if (_unattached is { } early)
        {
            _unattached = null;
            socket.Write(early.WrittenSpan);
        }
        _handler.PeerEndPoint = socket.RemoteEndPoint;
        _handler.LocalEndPoint = socket.LocalEndPoint;
        return socket;
    }
}
