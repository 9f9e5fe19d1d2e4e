using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Packet.Io.Configuration;
using Packet.Io.Transports;

namespace Packet.Actors.Runtime;

/// <summary>
/// What every actor of one reactor shares: its settings, the connection count and the user's error
/// handler. One instance per <see cref="Reactor"/>; nothing here is static.
/// </summary>
internal sealed class ReactorRuntime
{
    public ReactorRuntime(Reactor reactor, TransportSettings settings, ITransport transport, ILoggingAdapter log)
    {
        Reactor = reactor;
        Settings = settings;
        Limits = new ConnectionLimits(settings);
        Log = log;
        Transport = transport;
        MaxConnections = MaxConnectionsUnder(settings.MaxConnections, OpenFiles.Limit(), log);
        Metrics = new ReactorMetrics(this);
    }

    /// <summary>
    /// True on a thread while it runs a server's connection factory. A handler made there belongs to a
    /// reactor from its constructor on, even though its actor comes later: a factory may hand it to other
    /// threads at once, and their calls are queued for the actor instead of refused as calls on a handler
    /// no reactor knows. Thread-bound and scoped to one factory call, like Akka's own current-actor context.
    /// </summary>
    [ThreadStatic]
    internal static bool MakingHandler;

    private int _connections;

    public Reactor Reactor { get; }

    public TransportSettings Settings { get; }

    /// <summary>The part of <see cref="Settings"/> every connection's handler may read.</summary>
    public ConnectionLimits Limits { get; }

    public ILoggingAdapter Log { get; }

    /// <summary>How this reactor's servers listen and its connections dial (<c>packet.tcp.transport</c>).</summary>
    public ITransport Transport { get; }

    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>The reactor's meter and instruments, disposed when the reactor stops.</summary>
    public ReactorMetrics Metrics { get; }

    /// <summary>The most connections this reactor accepts: <c>packet.tcp.max-connections</c>, lowered to what the open-file limit leaves room for.</summary>
    public int MaxConnections { get; }

    /// <summary>Why a connection over <see cref="MaxConnections"/> is refused.</summary>
    public string AtMaxConnections => $"the reactor holds its most connections, {MaxConnections} (packet.tcp.max-connections, or less under the open-file limit)";

    private static int MaxConnectionsUnder(int configured, long? openFiles, ILoggingAdapter log)
    {
        if (openFiles is not { } limit) return configured;
        var cap = OpenFiles.ConnectionCap(limit);
        if (cap >= configured) return configured;
        log.Warning("packet.tcp.max-connections is {MaxConnections}, but this process may open only {FileLimit} files (ulimit -n): the reactor accepts at most {ConnectionCap} connections " +
                    "and leaves the other files to the runtime, which cannot start a thread without one. Raise the limit to accept more.", configured, limit, cap);
        return cap;
    }

    /// <summary>Set when the reactor starts to stop: a connection that ends from then on ends because of the shutdown.</summary>
    public bool IsStopping
    {
        get => Volatile.Read(ref _stopping);
        set => Volatile.Write(ref _stopping, value);
    }

    private bool _stopping;

    /// <summary>The master's worker state, or <see langword="null"/> when workers are not enabled.</summary>
    public Workers.WorkersRuntime? Workers { get; set; }

    /// <summary><c>packet.workers.max-asks-per-connection</c>; no limit when workers are not enabled (every ask is answered at once).</summary>
    public int MaxAsksPerConnection => Workers?.Settings.MaxAsksPerConnection ?? int.MaxValue;

    /// <summary>The worker registry actor, or <see langword="null"/> when workers are not enabled.</summary>
    public IActorRef? WorkersActor { get; set; }

    private int _pendingAsks;

    /// <summary>Worker asks sent and not yet answered; a stopping reactor waits for them (<c>drain-timeout</c>).</summary>
    public int PendingAsks => Volatile.Read(ref _pendingAsks);

    public void AskSent() => Interlocked.Increment(ref _pendingAsks);

    public void AsksEnded(int count) => Interlocked.Add(ref _pendingAsks, -count);

    /// <summary>
    /// Ids for worker asks: 63 random bits each, so that a peer that sees some of them (hostile code in
    /// one worker sees its own) cannot guess another's and answer in its place. Two asks pending at once
    /// share an id with odds of about n²/2⁶⁴ for n asks in flight: 1 in 18 million with a million.
    /// </summary>
    public long NextRequestId()
    {
        // Drawn from the system's generator 64 at a time: a call per id cost more than the rest of an ask.
        lock (_requestIds)
        {
            if (_requestIdsLeft == 0)
            {
                RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(_requestIds.AsSpan()));
                _requestIdsLeft = _requestIds.Length;
            }
            return _requestIds[--_requestIdsLeft] & long.MaxValue;
        }
    }

    private readonly long[] _requestIds = new long[64];
    private int _requestIdsLeft;

    /// <summary>The reactor's actor instance, for calls made on its own thread.</summary>
    public ReactorActor? ReactorActor { get; set; }

    /// <summary>Counts an accepted connection unless the reactor is at <see cref="MaxConnections"/>.</summary>
    public bool TryAdmit()
    {
        while (true)
        {
            var current = Volatile.Read(ref _connections);
            if (current >= MaxConnections) return false;
            if (Interlocked.CompareExchange(ref _connections, current + 1, current) == current) return true;
        }
    }

    /// <summary>
    /// Counts an outbound connection; false when that takes the reactor past <see cref="MaxConnections"/>.
    /// The dial then fails at once, and, like every connection, is released when its actor stops.
    /// </summary>
    public bool AdmitDial() => Interlocked.Increment(ref _connections) <= MaxConnections;

    public void Release() => Interlocked.Decrement(ref _connections);

    /// <summary>Reads a worker's answer; an unreadable payload becomes an error reply.</summary>
    public WorkerReply ToReply(Workers.WorkersActor.Answer answer)
    {
        if (answer.Error is { } error || answer.Payload is not { } payload)
            return new WorkerReply(answer.Worker, answer.Key, null, answer.Error ?? "the worker sent no payload");
        try
        {
            return new WorkerReply(answer.Worker, answer.Key, Workers!.Payloads.Deserialize(payload), null);
        }
        catch (Workers.Protocol.PayloadException e)
        {
            return new WorkerReply(answer.Worker, answer.Key, null, $"the reply cannot be read: {e.Message}");
        }
    }

    /// <summary>The config path of <see cref="ConnectionMailbox"/>, in Packet.Actors's reference.conf.</summary>
    private const string ConnectionMailboxId = "packet-connection-mailbox";

    /// <summary>The config path of the dispatcher that runs connection actors (<c>CompletionExecutor</c>), in Packet.Actors's reference.conf.</summary>
    private const string ConnectionDispatcherId = "packet-connection-dispatcher";

    /// <summary>What every connection actor's <see cref="Props"/> shares: its type, its mailbox and its dispatcher.</summary>
    private static readonly Props ConnectionTemplate = Props.Create<ConnectionActor>().WithMailbox(ConnectionMailboxId).WithDispatcher(ConnectionDispatcherId);

    /// <summary>Spawns the actor hosting <paramref name="handler"/> and attaches the handler to it.</summary>
    public IActorRef Spawn(IActorContext context, Connection handler, ConnectionActor.Origin origin, Action<Connection>? init)
    {
        handler.Prepare(this);
        var self = context.ActorOf(new ConnectionProps(handler, origin, init, this));
        handler.Attach(self);
        return self;
    }

    /// <summary>
    /// One connection's <see cref="Props"/>: the shared template plus what this actor is built from, with
    /// a plain constructor call. This runs once per accepted or dialled socket, and the usual ways cost
    /// far more: <c>Props.Create(() => ...)</c> evaluates its arguments by reflection, and
    /// <c>WithMailbox</c> makes a new <c>Deploy</c>, which parses an empty HOCON text, every time.
    /// </summary>
    private sealed class ConnectionProps(Connection handler, ConnectionActor.Origin origin, Action<Connection>? init, ReactorRuntime runtime)
        : Props(ConnectionTemplate)
    {
#pragma warning disable AK1000 // the analyzer knows producers but not Props subclasses: this is the Props it asks for
        public override ActorBase NewActor() => new ConnectionActor(handler, origin, init, runtime);
#pragma warning restore AK1000

        /// <summary>Akka copies props to change their deployment; the copy still builds this connection's actor.</summary>
        protected override Props Copy() => new ConnectionProps(handler, origin, init, runtime) { Deploy = Deploy, SupervisorStrategy = SupervisorStrategy };
    }

    /// <summary>Logs a handler failure and hands it to <see cref="Reactor.ErrorHandler"/>, which must not take the reactor down.</summary>
    public void ReportError(Connection? connection, Exception error, string where)
    {
        Log.Error(error, "{Connection} failed in {Hook}", connection?.GetType().Name ?? "reactor callback", where);
        if (Reactor.ErrorHandler is not { } handler) return;
        try
        {
            handler(connection, error);
        }
        catch (Exception inner)
        {
            Log.Error(inner, "Reactor.ErrorHandler threw while handling an error from {Hook}", where);
        }
    }
}
