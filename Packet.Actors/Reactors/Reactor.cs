using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Microsoft.Extensions.Logging;
using Packet.Actors.Cluster;
using Packet.Actors.Runtime;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using Packet.Io.Configuration;
using Packet.Io.Transports;

namespace Packet.Actors;

/// <summary>
/// Packet's <c>Packet::Reactor</c>: runs servers, clients and timers until stopped. Each reactor is its
/// own Akka.NET <see cref="ActorSystem"/>, so several can run in one process, independent of each other.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Run(Action{Reactor}, Config?)"/> is the Packet form: the setup callback receives the reactor,
/// which then runs until <see cref="Stop"/>, Ctrl-C or SIGTERM. <see cref="Start(Config?)"/> gives a running
/// reactor to code that manages its lifetime itself (tests, hosts).
/// </para>
/// <para>Every member is safe to call from any thread.</para>
/// </remarks>
public sealed class Reactor : IAsyncDisposable
{
    /// <summary>The defaults of the programming model (<c>Packet.Actors</c>'s embedded reference.conf).</summary>
    public static Config DefaultConfig { get; } = PacketConfig
        .FromResource(typeof(Reactor).Assembly, "Packet.Actors.reference.conf")
        .WithFallback(PacketConfig.Transport);

    private readonly ReactorRuntime _runtime;
    private readonly IActorRef _actor;
    private readonly TimeSpan _operationTimeout;
    private readonly TimeSpan _drainTimeout;
    private long _nextTimerId;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// What a reactor's actor system is made of: its full configuration (the user's over
    /// <see cref="DefaultConfig"/>, with the worker link's and the stop's phase timeouts) and its setups
    /// (the logger factory, the worker link's credentials and log filter).
    /// </summary>
    internal sealed record Plan(string Name, Config Config, IReadOnlyList<Setup> Setups, LinkCredentials? Link);

    internal static Plan PlanOf(Config config, LinkCredentials? link, ILoggerFactory? loggerFactory)
    {
        var full = config.WithFallback(DefaultConfig);
        if (loggerFactory is not null)
            full = ConfigurationFactory.ParseString($"akka.loggers = [\"{LoggerFactoryLogger.ConfigName}\"]").WithFallback(full);
        var reactor = ReactorSettings.From(full);
        var workers = WorkerSettings.From(full);
        ClusterSettings.From(full); // checked before any actor system starts
        if (workers.Enabled) full = full.WithFallback(full.GetConfig(WorkerSettings.RemoteConfigPath));
        full = ShutdownPhases(reactor, workers).WithFallback(full);
        var setups = new List<Setup>();
        if (loggerFactory is not null) setups.Add(new LoggerFactoryLogger.Setup(loggerFactory));
        if (workers.Enabled)
        {
            link ??= LinkCredentials.Create();
            setups.Add(link.Setup());
            setups.Add(new LogFilterBuilder().Add(new LinkLogFilter()).Build());
        }
        return new Plan(reactor.Name, full, setups, workers.Enabled ? link : null);
    }

    /// <summary>Makes the actor system of <paramref name="plan"/> and starts a reactor on it; the system ends if the start fails.</summary>
    private static Reactor StartOwn(Plan plan, Role role)
    {
        var setup = ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(plan.Config));
        foreach (var each in plan.Setups) setup = setup.And(each);
        var system = ActorSystem.Create(plan.Name, setup);
        try
        {
            return new Reactor(system, plan.Config, plan.Link, role);
        }
        catch
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
    }

    /// <summary>Starts a reactor on <paramref name="system"/>, made from a <see cref="Plan"/> whose <paramref name="config"/> it has.</summary>
    internal Reactor(ActorSystem system, Config config, LinkCredentials? link, Role role)
    {
        var settings = TransportSettings.From(config);
        var reactor = ReactorSettings.From(config);
        var workers = WorkerSettings.From(config);
        var catalog = workers.Enabled ? WorkerCatalog.Load(workers) : [];
        var allowed = workers.AllowedTypes.Select(name => Type.GetType(name, throwOnError: false)
            ?? throw new ConfigurationException($"PacketAkka setting 'packet.workers.allowed-types' names \"{name}\", which cannot be loaded")).ToArray();
        _operationTimeout = reactor.OperationTimeout;
        _drainTimeout = reactor.DrainTimeout;
        _role = role;
        var cluster = ClusterSettings.From(config);
        Link = link;
        System = system;
        StartScheduler(System);
        _runtime = new ReactorRuntime(this, settings, Transport.Create(settings, System), Logging.GetLogger(System, typeof(Reactor)));
        if (workers.Enabled)
        {
            if (link is null) throw new ConfigurationException("PacketAkka workers need the worker link's credentials in the actor system's setup (a Reactor.Plan)");
            var master = $"{((ExtendedActorSystem)System).Provider.DefaultAddress}/user/workers";
            _runtime.Workers = new WorkersRuntime(this, workers, catalog, new PayloadSerializer(allowed, workers.MaxPayload), master,
                config.GetString("akka.loglevel"), link,
                uniqueByCluster: role == Role.HostAgent || role == Role.Application && cluster.Enabled);
            _runtime.WorkersActor = System.ActorOf(Props.Create(() => new WorkersActor(_runtime.Workers)), "workers");
        }
        _actor = System.ActorOf(Props.Create(() => new ReactorActor(_runtime)), "reactor");
        Guard(_actor, "the reactor's actor");
        if (_runtime.WorkersActor is { } registry) Guard(registry, "the worker registry");
        JoinCoordinatedShutdown();
        if (cluster.Enabled && role == Role.Application) _cluster = StartClusterNode(cluster, config.GetString("akka.loglevel"), restarts: 0);
        if (role != Role.WorkerHost)
            _runtime.Log.Info("reactor {Reactor} started (transport {Transport}, workers {Workers}, cluster {Cluster})", reactor.Name, settings.Transport,
                workers.Enabled ? workers.InProcess ? "in process" : "in WorkerHost processes" : "off", Cluster?.Address.ToString() ?? "off");
    }

    /// <summary>
    /// This master's node in its cluster (<c>packet.cluster</c>), or <see langword="null"/> when the cluster is off;
    /// a new one once a node that ended by itself has started again.
    /// </summary>
    internal ClusterNode? Cluster => _cluster;

    private volatile ClusterNode? _cluster;

    /// <summary>The worker registry, or <see langword="null"/> when workers are off.</summary>
    internal IActorRef? Registry => _runtime.WorkersActor;

    /// <summary>A new request id for a worker ask (63 random bits).</summary>
    internal long NextRequestId() => _runtime.NextRequestId();

    /// <summary>
    /// Starts this master's cluster node. A node that ends by itself (the cluster downed it, or Akka.Remote ended it
    /// after an outgoing TLS handshake failed: akkadotnet/akka.net#7839) starts again, after 5 s, doubled on each
    /// restart up to a minute (back to 5 s once a node has lived a minute); the reactor carries on with its local
    /// workers meanwhile.
    /// </summary>
    private ClusterNode StartClusterNode(ClusterSettings settings, string logLevel, int restarts)
    {
        ClusterNode node;
        try
        {
            node = ClusterNode.Start(settings, ClusterSettings.MasterRole, logLevel, System.Settings.Setup.Get<LoggerFactoryLogger.Setup>().Value);
        }
        catch (InvalidDataException e)
        {
            throw new ConfigurationException($"PacketAkka setting 'packet.cluster.credentials': {e.Message}", e);
        }
        if (Registry is { } registry) node.System.ActorOf(Props.Create(() => new ClusterMasterActor(registry, settings.PreferLocal)), ClusterMasterActor.Name);
        node.Join();
        var address = node.Address;
        var started = Stopwatch.GetTimestamp();
        node.WhenTerminated.ContinueWith(_ => RestartClusterNodeAsync(address, settings, logLevel,
            Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(1) ? 1 : restarts + 1), TaskScheduler.Default);
        return node;
    }

    /// <summary>Whether the reactor is stopping or stopped: a cluster node that ends then is not started again.</summary>
    private bool Ending => _runtime.IsStopping || System.WhenTerminated.IsCompleted;

    /// <summary>Starts the cluster node again after a node at <paramref name="address"/> ended, its <paramref name="restarts"/>th restart in a row (see <see cref="StartClusterNode"/>).</summary>
    private async Task RestartClusterNodeAsync(Address address, ClusterSettings settings, string logLevel, int restarts)
    {
        while (!Ending)
        {
            var delay = TimeSpan.FromSeconds(Math.Min(60, 5 << Math.Min(restarts - 1, 4)));
            _runtime.Log.Warning("the cluster node {Node} ended; it starts again in {Delay}, and the reactor carries on with its local workers meanwhile", address, delay);
            await Task.Delay(delay).ConfigureAwait(false);
            if (Ending) return;
            try
            {
                var node = StartClusterNode(settings, logLevel, restarts);
                _cluster = node;
                if (Ending) await node.System.Terminate().ConfigureAwait(false); // the reactor began to stop meanwhile
                else _runtime.Log.Info("the cluster node started again at {Node}", node.Address);
                return;
            }
            catch (Exception e)
            {
                _runtime.Log.Error(e, "the cluster node could not start again");
                restarts++;
            }
        }
    }

    /// <summary>What a reactor is run for.</summary>
    internal enum Role
    {
        /// <summary>An application's: its servers, its WorkerHosts, and its cluster node when <c>packet.cluster</c> is on.</summary>
        Application,

        /// <summary>A WorkerHost's, which serves its worker only: its start and stop are not news.</summary>
        WorkerHost,

        /// <summary>A host agent's (<c>Packet.WorkerHost.dll join</c>), whose cluster node the agent runs: its cluster-unique workers are the cluster's to start.</summary>
        HostAgent,
    }

    private readonly Role _role;

    /// <summary>Why the reactor stopped by itself, or <see langword="null"/>.</summary>
    private volatile string? _failure;

    /// <summary>
    /// A reactor whose own actor or worker registry stops, other than by <see cref="StopAsync"/>, stops as
    /// a whole: it could serve nobody, yet its process would look alive to a supervisor and never be
    /// restarted. <see cref="Run"/> and <see cref="RunAsync"/> then throw, so the process ends with an error.
    /// </summary>
    private void Guard(IActorRef actor, string what) =>
        actor.WatchAsync().ContinueWith(_ =>
        {
            if (_runtime.IsStopping) return;
            _failure = $"{what} stopped unexpectedly";
            _runtime.Log.Error("{Failure}; the reactor stops, as it can no longer serve", _failure);
            Stop();
        }, TaskScheduler.Default);

    /// <summary>
    /// Starts the actor system's timer thread now. Akka starts it on first use, and that first use waits,
    /// blocking its thread, until a thread-pool thread has started it. When a burst of new connection
    /// actors each set their first timer at once, they all block on pool threads while the start waits
    /// behind them in the pool's queue: on a small machine the reactor stood still for up to two minutes,
    /// the pool growing by a thread or two a second, before the start ran.
    /// </summary>
    private static void StartScheduler(ActorSystem system) => system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });

    /// <summary>
    /// Called on the connection's actor when a handler hook, a timer callback or a factory throws,
    /// after the error is logged. Receives the failing handler (<see langword="null"/> for reactor-level
    /// callbacks and factories) and the exception. An exception thrown here is logged and ignored.
    /// </summary>
    public Action<Connection?, Exception>? ErrorHandler { get; set; }

    /// <summary>The actor system under this reactor, for Akka.NET features beyond Packet's (cluster, custom actors).</summary>
    public ActorSystem System { get; }

    /// <summary>Worker asks made by connections and not yet answered.</summary>
    internal int PendingAsks => _runtime.PendingAsks;

    /// <summary>This reactor's instruments (<see cref="ReactorMetrics"/>).</summary>
    internal ReactorMetrics Metrics => _runtime.Metrics;

    /// <summary>How many connections (accepted and outbound) are open now.</summary>
    public int ConnectionCount => _runtime.ConnectionCount;

    internal TransportSettings Settings => _runtime.Settings;

    /// <summary>Completes when the reactor has stopped.</summary>
    public Task WhenStopped => _stopped.Task;

    // ---- running -----------------------------------------------------------------------------

    /// <summary>
    /// Starts a reactor, hands it to <paramref name="setup"/>, and blocks until it stops: by
    /// <see cref="Stop"/>, Ctrl-C or SIGTERM. If <paramref name="setup"/> throws, the reactor stops and
    /// the exception propagates.
    /// </summary>
    /// <param name="setup">Starts servers, clients and timers.</param>
    /// <param name="config">Overrides of <see cref="DefaultConfig"/>, or <see langword="null"/>.</param>
    /// <exception cref="InvalidOperationException">The reactor stopped by itself because its own actor or worker registry stopped; it is stopped and its WorkerHosts are gone.</exception>
    public static void Run(Action<Reactor> setup, Config? config = null) =>
        RunAsync(reactor => { setup(reactor); return Task.CompletedTask; }, config).GetAwaiter().GetResult();

    /// <summary>
    /// The asynchronous form of <see cref="Run"/>: completes when the reactor stops, by <see cref="Stop"/>,
    /// Ctrl-C, SIGTERM or <paramref name="cancellationToken"/>.
    /// </summary>
    /// <param name="setup">Starts servers, clients and timers; may await.</param>
    /// <param name="config">Overrides of <see cref="DefaultConfig"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops the reactor when cancelled.</param>
    /// <exception cref="InvalidOperationException">The reactor stopped by itself because its own actor or worker registry stopped; it is stopped and its WorkerHosts are gone.</exception>
    public static async Task RunAsync(Func<Reactor, Task> setup, Config? config = null, CancellationToken cancellationToken = default)
    {
        var reactor = Start(config);
        await using (reactor.ConfigureAwait(false))
        {
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, reactor.StopOnSignal);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, reactor.StopOnSignal);
            using var cancel = cancellationToken.Register(reactor.Stop);
            await setup(reactor).ConfigureAwait(false);
            await reactor.WhenStopped.ConfigureAwait(false);
        }
        if (reactor._failure is { } failure) throw new InvalidOperationException($"the reactor failed: {failure}");
    }

    /// <summary>Starts a reactor that runs until <see cref="Stop"/> or <see cref="DisposeAsync"/>.</summary>
    /// <param name="config">Overrides of <see cref="DefaultConfig"/>, or <see langword="null"/>.</param>
    /// <exception cref="ConfigurationException">A setting is missing or malformed; the message names it.</exception>
    public static Reactor Start(Config? config = null) => StartOwn(PlanOf(config ?? Config.Empty, null, null), Role.Application);

    /// <summary>
    /// Starts a reactor whose log goes to <paramref name="loggerFactory"/> (Microsoft.Extensions.Logging) instead
    /// of standard output: one structured record per log event at <c>akka.loglevel</c> or above, with the
    /// template's named values as fields (<c>Worker</c>, <c>ExitCode</c>, <c>Peer</c>...), under the category of
    /// the class that logged (<c>Packet.Actors...</c>, <c>Akka...</c>). A WorkerHost's output lines go to the
    /// category <c>Packet.WorkerHost</c>, at their own level, in a scope with <c>Worker</c> and <c>HostPid</c>.
    /// </summary>
    /// <param name="config">Overrides of <see cref="DefaultConfig"/>, or <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where the log goes; a Generic Host's is used by <c>services.AddPacket</c>.</param>
    /// <exception cref="ConfigurationException">A setting is missing or malformed; the message names it.</exception>
    public static Reactor Start(Config? config, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        return StartOwn(PlanOf(config ?? Config.Empty, null, loggerFactory), Role.Application);
    }

    /// <summary>Starts a WorkerHost's reactor, on the link credentials of the master that started it.</summary>
    internal static Reactor Start(Config config, LinkCredentials link) => StartOwn(PlanOf(config, link, null), Role.WorkerHost);

    /// <summary>Starts a host agent's reactor, which starts its workers but not the cluster-unique ones.</summary>
    internal static Reactor StartHostAgent(Config config) => StartOwn(PlanOf(config, null, null), Role.HostAgent);

    /// <summary>The run's worker-link credentials, or <see langword="null"/> when workers are not enabled.</summary>
    internal LinkCredentials? Link { get; }

    /// <summary>
    /// Stops the reactor gracefully: listening sockets close; connections read no more (as if paused),
    /// and the worker asks they have made are answered (up to <c>packet.reactor.drain-timeout</c>); every open connection closes after writing what it has
    /// queued, and gets <see cref="Connection.Unbind"/> with <see cref="UnbindKind.Shutdown"/>; the
    /// WorkerHosts stop; the actor system ends. Returns at once; await <see cref="StopAsync"/> or
    /// <see cref="WhenStopped"/> to wait.
    /// </summary>
    public void Stop() => _ = StopAsync();

    /// <summary>
    /// Stops the reactor as <see cref="Stop"/> does and completes when it has stopped. Safe to call more than
    /// once: every call gets the same stop. The steps are tasks of the actor system's
    /// <see cref="CoordinatedShutdown"/> (phases <c>service-unbind</c>, <c>service-requests-done</c>,
    /// <c>service-stop</c>, <c>before-actor-system-terminate</c>), so running it or terminating the actor
    /// system stops the reactor the same way, in order with other actors' phases.
    /// </summary>
    /// <param name="cancellationToken">
    /// Cuts the graceful part short when cancelled (a host's shutdown timeout, for example): the drains end
    /// at once, and the reactor stops as its actor system ends: every connection still open is closed and
    /// gets <see cref="Connection.Unbind"/> with <see cref="UnbindKind.Shutdown"/>, and every WorkerHost is
    /// killed. The task still completes only when the reactor has stopped, which then takes well under a second.
    /// </param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.CanBeCanceled) cancellationToken.Register(static hurry => ((CancellationTokenSource)hurry!).Cancel(), _hurry);
        _runtime.IsStopping = true;
        if (_failure is not null) _hurry.Cancel(); // nothing is left to drain through
        _ = CoordinatedShutdown.Get(System).Run(StopReason.Instance); // once: a later call gets the same run
        return WhenStopped;
    }

    private readonly CancellationTokenSource _hurry = new(); // cancelled by a StopAsync token: the graceful stop ends at once

    /// <summary>Cuts the graceful stop's drains short <paramref name="delay"/> from now, as a cancelled <see cref="StopAsync"/> token does.</summary>
    internal void HurryAfter(TimeSpan delay) => _hurry.CancelAfter(delay);

    /// <summary>Why the actor system's <see cref="CoordinatedShutdown"/> ran: <see cref="Stop"/> or <see cref="StopAsync"/>.</summary>
    private sealed class StopReason : CoordinatedShutdown.Reason
    {
        public static readonly StopReason Instance = new();

        public override int ExitCode => 0;

        public override string ToString() => "Reactor.Stop";
    }

    /// <summary>
    /// The graceful stop, as tasks of the actor system's <see cref="CoordinatedShutdown"/>, so it runs the same
    /// whoever starts the shutdown (<see cref="StopAsync"/>, the actor system's <c>Terminate</c>, an
    /// application's own <c>CoordinatedShutdown</c> run) and in order with other actors' phases: <c>service-unbind</c>, stop accepting (new connections
    /// are reset) and stop reading (every connection is paused, so no new ask starts);
    /// <c>service-requests-done</c>, let worker asks in flight be answered and written (up to <c>drain-timeout</c>);
    /// <c>service-stop</c>, close every connection gracefully with <see cref="UnbindKind.Shutdown"/> (up to
    /// <c>drain-timeout</c> again); <c>before-actor-system-terminate</c>, ask every WorkerHost to end on its own, so
    /// its link closes cleanly instead of being reported dropped. Then the actor system ends, which closes the
    /// listening sockets and kills any WorkerHost still there, and the transport, meter and worker log files are released.
    /// </summary>
    private void JoinCoordinatedShutdown()
    {
        var shutdown = CoordinatedShutdown.Get(System);
        var hurry = _hurry.Token;
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceUnbind, "packet-stop-accepting", () =>
        {
            _runtime.IsStopping = true;
            if (_role != Role.WorkerHost && !hurry.IsCancellationRequested) LogStopping();
            _actor.Tell(ServerActor.StopAccepting.Instance);
            _actor.Tell(ConnectionActor.StopReading.Instance);
            return Task.FromResult(Done.Instance);
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "packet-answer-asks", async () =>
        {
            if (!await WithinAsync(() => _runtime.PendingAsks <= 0, _drainTimeout, hurry).ConfigureAwait(false))
                _runtime.Log.Warning("stopping with {PendingAsks} worker asks unanswered after {Waited}", _runtime.PendingAsks, Hurried(hurry));
            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseServiceStop, "packet-close-connections", async () =>
        {
            _actor.Tell(new ConnectionActor.Shutdown(new UnbindReason(UnbindKind.Shutdown, "the reactor stopped")));
            if (!await WithinAsync(() => ConnectionCount <= 0, _drainTimeout, hurry).ConfigureAwait(false))
                _runtime.Log.Warning("stopping with {Connections} connections still closing after {Waited}", ConnectionCount, Hurried(hurry));
            return Done.Instance;
        });
        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "packet-end-worker-hosts", async () =>
        {
            if (_runtime.WorkersActor is { } workers && !hurry.IsCancellationRequested)
            {
                try
                {
                    await workers.Ask(WorkersActor.EndAll.Instance, EndWorkersLimit, hurry).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    _runtime.Log.Warning("stopping with WorkerHosts that did not end in time ({Reason}); they are killed", e.Message);
                }
            }
            if (Cluster is { } node && !hurry.IsCancellationRequested)
            {
                try
                {
                    await node.LeaveAsync().WaitAsync(_operationTimeout, hurry).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    _runtime.Log.Warning("the cluster node {Node} did not leave within {Timeout}; it ends anyway", node.Address, _operationTimeout);
                }
            }
            if (_role != Role.WorkerHost) _runtime.Log.Info("stopping: the drains are over; the actor system ends");
            return Done.Instance;
        });
        System.RegisterOnTermination(() =>
        {
            _runtime.Transport.Dispose();
            _runtime.Metrics.Dispose();
            _runtime.Workers?.CloseLogs();
            Cluster?.System.Terminate();
            _stopped.TrySetResult();
        });
    }

    /// <summary>What the stop is going to wait for, at its start.</summary>
    private void LogStopping()
    {
        if (_runtime.Workers is null)
            _runtime.Log.Info("stopping: servers accept no more; closing {Connections} connections (waiting up to {DrainTimeout})", ConnectionCount, _drainTimeout);
        else
            _runtime.Log.Info("stopping: servers accept no more; waiting up to {DrainTimeout} for {PendingAsks} worker asks, then closing {Connections} connections",
                _drainTimeout, _runtime.PendingAsks, ConnectionCount);
    }

    /// <summary>How long the WorkerHosts get to end on their own when the reactor stops.</summary>
    private TimeSpan EndWorkersLimit => _runtime.Workers is { } workers ? EndWorkersLimitOf(workers.Settings, _operationTimeout) : TimeSpan.Zero;

    private static TimeSpan EndWorkersLimitOf(WorkerSettings workers, TimeSpan operationTimeout) =>
        WorkersActor.RetireLimit(workers, ProxyActor.Delete.WhenIdle) + operationTimeout;

    /// <summary>
    /// The timeouts of the <see cref="CoordinatedShutdown"/> phases the stop runs in, from <c>drain-timeout</c> and
    /// the WorkerHosts' end: long enough for the stop's own limits, which end each step first, and only a
    /// backstop beyond them (Akka's default of 5 s per phase would cut a 10 s drain short).
    /// </summary>
    private static Config ShutdownPhases(ReactorSettings reactor, WorkerSettings workers)
    {
        var margin = TimeSpan.FromSeconds(5);
        var drain = (reactor.DrainTimeout + margin).TotalMilliseconds;
        var end = (EndWorkersLimitOf(workers, reactor.OperationTimeout) + margin).TotalMilliseconds;
        return ConfigurationFactory.ParseString($$"""
            akka.coordinated-shutdown.phases {
              service-requests-done.timeout = {{drain:F0}}ms
              service-stop.timeout = {{drain:F0}}ms
              before-actor-system-terminate.timeout = {{end:F0}}ms
            }
            """);
    }

    /// <summary>Waits for <paramref name="done"/>, checking every 10 ms, at most <paramref name="limit"/> and only until <paramref name="hurry"/> is cancelled.</summary>
    private static async Task<bool> WithinAsync(Func<bool> done, TimeSpan limit, CancellationToken hurry)
    {
        var deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (!done())
        {
            if (Environment.TickCount64 >= deadline || hurry.IsCancellationRequested) return false;
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Why a drain ended before its work did, for the warning.</summary>
    private string Hurried(CancellationToken hurry) =>
        hurry.IsCancellationRequested ? "StopAsync's token was cancelled" : $"packet.reactor.drain-timeout ({_drainTimeout})";

    /// <summary>Stops the reactor and waits for it; the same as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private void StopOnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _runtime.Log.Info("{Signal} received; stopping the reactor", context.Signal);
        Stop();
    }

    // ---- servers and clients -----------------------------------------------------------------

    /// <summary>
    /// Listens on <paramref name="host"/>:<paramref name="port"/> and makes a new <typeparamref name="T"/>
    /// for every accepted connection. Port 0 picks a free port: read it from <see cref="Server.LocalEndPoint"/>.
    /// </summary>
    /// <typeparam name="T">The handler type.</typeparam>
    /// <param name="host">An IP address or a host name (a name binds its first IPv4 address).</param>
    /// <param name="port">The port, or 0.</param>
    /// <param name="onAccept">
    /// Packet's per-connection block: runs on each accepted connection's actor, after
    /// <see cref="Connection.PostInit"/> and before any data. The place to inject per-connection state.
    /// </param>
    /// <param name="tls">
    /// Options to start every accepted connection in TLS with, before <see cref="Connection.PostInit"/> (as if it called
    /// <see cref="Connection.StartTls(SslServerAuthenticationOptions)"/> first), or <see langword="null"/> for plain TCP.
    /// </param>
    /// <exception cref="InvalidOperationException">The address cannot be bound (in use, not local).</exception>
    /// <exception cref="ArgumentException"><paramref name="tls"/> names no certificate.</exception>
    public Task<Server> StartServerAsync<T>(string host, int port, Action<T>? onAccept = null, SslServerAuthenticationOptions? tls = null) where T : Connection, new() =>
        StartServerAsync(host, port, () => new T(), Typed(onAccept), tls);

    /// <summary>As <see cref="StartServerAsync{T}"/>, with a factory that makes each connection's handler.</summary>
    /// <param name="host">An IP address or a host name.</param>
    /// <param name="port">The port, or 0.</param>
    /// <param name="factory">Makes one handler per accepted connection; if it throws, that connection is refused and the error reported.</param>
    /// <param name="onAccept">Runs on each accepted connection, after <see cref="Connection.PostInit"/>.</param>
    /// <param name="tls">Options to start every accepted connection in TLS with, or <see langword="null"/> for plain TCP.</param>
    public async Task<Server> StartServerAsync(string host, int port, Func<Connection> factory, Action<Connection>? onAccept = null, SslServerAuthenticationOptions? tls = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        if (tls is not null) Connection.ValidTls(tls);
        var endpoint = new IPEndPoint(await ResolveAsync(host).ConfigureAwait(false), ValidPort(port));
        var bound = await _actor.Ask<ServerActor.Bound>(new ReactorActor.StartServer(endpoint, factory, onAccept, tls), _operationTimeout)
            .ConfigureAwait(false);
        return new Server(bound.Server, bound.LocalEndPoint, _operationTimeout + _runtime.Settings.CloseTimeout);
    }

    /// <summary>
    /// The blocking form of <see cref="StartServerAsync{T}"/>, for setup code. Not for use inside
    /// handler hooks, which must not block: there, use the async form.
    /// </summary>
    /// <typeparam name="T">The handler type.</typeparam>
    /// <param name="host">An IP address or a host name.</param>
    /// <param name="port">The port, or 0.</param>
    /// <param name="onAccept">Runs on each accepted connection, after <see cref="Connection.PostInit"/>.</param>
    /// <param name="tls">Options to start every accepted connection in TLS with, or <see langword="null"/> for plain TCP.</param>
    public Server StartServer<T>(string host, int port, Action<T>? onAccept = null, SslServerAuthenticationOptions? tls = null) where T : Connection, new() =>
        Blocking(() => StartServerAsync(host, port, onAccept, tls));

    /// <summary>The blocking form of <see cref="StartServerAsync(string,int,Func{Connection},Action{Connection}?,SslServerAuthenticationOptions?)"/>.</summary>
    /// <param name="host">An IP address or a host name.</param>
    /// <param name="port">The port, or 0.</param>
    /// <param name="factory">Makes one handler per accepted connection.</param>
    /// <param name="onAccept">Runs on each accepted connection, after <see cref="Connection.PostInit"/>.</param>
    /// <param name="tls">Options to start every accepted connection in TLS with, or <see langword="null"/> for plain TCP.</param>
    public Server StartServer(string host, int port, Func<Connection> factory, Action<Connection>? onAccept = null, SslServerAuthenticationOptions? tls = null) =>
        Blocking(() => StartServerAsync(host, port, factory, onAccept, tls));

    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> with a new <typeparamref name="T"/> and
    /// returns the handler at once. The outcome arrives in its hooks: <see cref="Connection.ConnectionCompleted"/>
    /// on success, otherwise <see cref="Connection.Unbind"/> with <see cref="UnbindKind.ConnectFailed"/>
    /// (also, without dialling, when the reactor already holds <c>packet.tcp.max-connections</c>
    /// connections) or <see cref="UnbindKind.ConnectTimeout"/>.
    /// </summary>
    /// <typeparam name="T">The handler type.</typeparam>
    /// <param name="host">An IP address or a host name (resolved without blocking; IPv4 preferred).</param>
    /// <param name="port">The port.</param>
    /// <param name="init">Runs on the connection's actor after <see cref="Connection.PostInit"/> and before the connect starts.</param>
    public T Connect<T>(string host, int port, Action<T>? init = null) where T : Connection, new() =>
        Connect(host, port, new T(), init);

    /// <summary>As <see cref="Connect{T}(string,int,Action{T}?)"/>, with a handler instance you made.</summary>
    /// <typeparam name="T">The handler type.</typeparam>
    /// <param name="host">An IP address or a host name.</param>
    /// <param name="port">The port.</param>
    /// <param name="handler">A new handler, not yet used for a connection.</param>
    /// <param name="init">Runs on the connection's actor after <see cref="Connection.PostInit"/>.</param>
    /// <exception cref="InvalidOperationException">The handler is already in use; use <see cref="Reconnect{T}"/>.</exception>
    public T Connect<T>(string host, int port, T handler, Action<T>? init = null) where T : Connection
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (handler.IsAttached)
            throw new InvalidOperationException($"this {typeof(T).Name} already has a connection; use Reactor.Reconnect to dial it again");
        Dial(host, port, handler, Typed(init));
        return handler;
    }

    /// <summary>
    /// Dials again with the same handler instance after its connection ended (Packet's <c>reconnect</c>).
    /// <see cref="Connection.PostInit"/> does not run again; <see cref="Connection.ConnectionCompleted"/>
    /// does. Call it from <see cref="Connection.Unbind"/> or later. Returns <paramref name="handler"/>.
    /// </summary>
    /// <typeparam name="T">The handler type.</typeparam>
    /// <param name="host">An IP address or a host name.</param>
    /// <param name="port">The port.</param>
    /// <param name="handler">A handler whose previous connection has ended.</param>
    public T Reconnect<T>(string host, int port, T handler) where T : Connection
    {
        ArgumentNullException.ThrowIfNull(handler);
        Dial(host, port, handler, null);
        return handler;
    }

    private void Dial(string host, int port, Connection handler, Action<Connection>? init)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        handler.Prepare(_runtime); // so the caller may use the handler at once: its calls queue until the actor exists
        _actor.Tell(new ReactorActor.Connect(handler, host, ValidPort(port), init));
    }

    // ---- timers and scheduling ---------------------------------------------------------------

    /// <summary>Runs <paramref name="callback"/> once after <paramref name="delay"/>, on the reactor's actor.</summary>
    /// <param name="delay">How long to wait; positive.</param>
    /// <param name="callback">What to run; an exception is reported to <see cref="ErrorHandler"/>.</param>
    public TimerHandle AddTimer(TimeSpan delay, Action callback) => StartTimer(delay, periodic: false, callback);

    /// <summary>Runs <paramref name="callback"/> every <paramref name="interval"/> on the reactor's actor until cancelled.</summary>
    /// <param name="interval">The period; positive.</param>
    /// <param name="callback">What to run; an exception is reported to <see cref="ErrorHandler"/> and the timer keeps going.</param>
    public TimerHandle AddPeriodicTimer(TimeSpan interval, Action callback) => StartTimer(interval, periodic: true, callback);

    /// <summary>Cancels a reactor timer; the same as <see cref="TimerHandle.Cancel"/>.</summary>
    /// <param name="timer">A handle from <see cref="AddTimer"/> or <see cref="AddPeriodicTimer"/>.</param>
    public void CancelTimer(TimerHandle timer) => timer.Cancel();

    /// <summary>
    /// Queues <paramref name="action"/> to run on the reactor's actor, after work already queued
    /// (EventMachine's <c>next_tick</c> and <c>schedule</c>). Safe from any thread. Once <see cref="Stop"/>
    /// (or <see cref="StopAsync"/>, Ctrl-C, SIGTERM) has been called, the reactor takes no more work:
    /// an action queued from then on, from any thread or from a callback of the stopping reactor, is
    /// dropped without running, as EventMachine drops <c>next_tick</c> blocks when its loop stops.
    /// Work queued before the stop still runs.
    /// </summary>
    /// <param name="action">What to run; an exception is reported to <see cref="ErrorHandler"/>.</param>
    public void NextTick(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_runtime.IsStopping)
        {
            _runtime.Log.Debug("dropping Reactor.NextTick work queued after the reactor began to stop");
            return;
        }
        _actor.Tell(new ReactorActor.Run(action));
    }

    private TimerHandle StartTimer(TimeSpan interval, bool periodic, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "a timer interval must be positive");
        var handle = new TimerHandle(Interlocked.Increment(ref _nextTimerId), interval, periodic,
            h => OnReactor(new ReactorActor.CancelTimer(h)));
        OnReactor(new ReactorActor.StartTimer(handle, callback));
        return handle;
    }

    /// <summary>Acts at once when called from a reactor callback (so a cancel there stops the very next tick); queues otherwise.</summary>
    private void OnReactor(object command)
    {
        if (Equals(InternalCurrentActorCellKeeper.Current?.Self, _actor) && _runtime.ReactorActor is { } actor)
            actor.Handle(command);
        else
            _actor.Tell(command);
    }

    // ---- workers -----------------------------------------------------------------------------

    /// <summary>
    /// Starts a worker at runtime in its own WorkerHost process (Packet's <c>start_worker</c>), typically
    /// one marked <see cref="WorkerAttribute.NoAutoLoad"/>. Completes when the worker has registered and
    /// its <see cref="Worker.WorkerInit"/> has returned: from then on it takes asks. Several instances of
    /// one worker run side by side under different keys.
    /// </summary>
    /// <param name="name">The worker name, from <see cref="WorkerAttribute"/>.</param>
    /// <param name="key">The instance key (backgroundrb's <c>worker_key</c>), or <see langword="null"/>.</param>
    /// <param name="options">What the worker reads as <see cref="Worker.WorkerOptions"/>.</param>
    /// <exception cref="ArgumentException">No worker has that name.</exception>
    /// <exception cref="InvalidOperationException">
    /// That name and key is already running, workers are not enabled, or the worker is <see cref="WorkerAttribute.ClusterUnique"/>
    /// and this reactor's cluster is on (it runs on a host agent, which the cluster chooses).
    /// </exception>
    public async Task StartWorkerAsync(string name, string? key = null, IReadOnlyDictionary<string, string>? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (WorkersRuntime.Catalog.TryGetValue(name, out var type)) RefuseUnique(type);
        var timeout = WorkersRuntime.Settings.StartTimeout + _operationTimeout;
        await Workers.Ask(new WorkersActor.StartWorker(name, key, options ?? new Dictionary<string, string>()), timeout).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a worker named in code rather than found in <c>packet.workers.root</c> or <c>packet.workers.types</c>
    /// (set <c>packet.workers.enabled = on</c> when no worker is named in config). Otherwise as
    /// <see cref="StartWorkerAsync"/>; the class's <see cref="WorkerAttribute"/> gives the name.
    /// </summary>
    /// <typeparam name="T">The worker class; its assembly must be a file the WorkerHost can load.</typeparam>
    /// <param name="key">The instance key, or <see langword="null"/>.</param>
    /// <param name="options">What the worker reads as <see cref="Worker.WorkerOptions"/>.</param>
    /// <exception cref="ArgumentException">The class is not a valid worker (no name, abstract, no parameterless constructor).</exception>
    public Task StartWorkerAsync<T>(string? key = null, IReadOnlyDictionary<string, string>? options = null) where T : Worker =>
        StartWorkerOfTypeAsync(typeof(T), key, options);

    /// <summary><see cref="StartWorkerAsync{T}"/> for a worker class known at run time.</summary>
    internal async Task StartWorkerOfTypeAsync(Type worker, string? key, IReadOnlyDictionary<string, string>? options)
    {
        var type = WorkerType.Of(worker);
        RefuseUnique(type);
        var timeout = WorkersRuntime.Settings.StartTimeout + _operationTimeout;
        await Workers.Ask(new WorkersActor.StartWorker(type.Name, key, options ?? new Dictionary<string, string>(), type), timeout).ConfigureAwait(false);
    }

    /// <summary>A master whose cluster is on does not run a cluster-unique worker: one host agent does, which the cluster chooses.</summary>
    private void RefuseUnique(WorkerType type)
    {
        if (type.ClusterUnique && _role == Role.Application && WorkersRuntime.UniqueByCluster)
            throw new InvalidOperationException($"worker {type.Name} is cluster-unique: with packet.cluster on, it runs on one host agent, which the cluster chooses, not on a master");
    }

    /// <summary>
    /// Stops a worker's process and removes it (Packet's <c>delete_worker</c>, which did neither).
    /// Its pending asks fail. Completes when the process is gone.
    /// </summary>
    /// <param name="name">The worker name.</param>
    /// <param name="key">The instance key, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">No such worker is running.</exception>
    public async Task DeleteWorkerAsync(string name, string? key = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        await Workers.Ask(new WorkersActor.DeleteWorker(name, key), WorkersRuntime.Settings.StartTimeout + _operationTimeout).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks a worker from outside any connection (setup code, tests, other services) and awaits its
    /// reply. Inside a handler use <see cref="Connection.AskWorker(string, object?, string?, bool)"/> instead,
    /// whose reply runs on the connection's actor.
    /// </summary>
    /// <param name="name">The worker name.</param>
    /// <param name="data">A payload of an allowed type.</param>
    /// <param name="key">The instance key, or <see langword="null"/>.</param>
    /// <param name="idempotent">Whether the ask may run twice, and so be retried on another host (see <see cref="Connection.AskWorker(string, object?, string?, bool)"/>).</param>
    /// <returns>What the worker's <see cref="Worker.ReceiveData"/> returned.</returns>
    /// <exception cref="WorkerException">The ask failed; the message says why.</exception>
    public async Task<object?> AskWorkerAsync(string name, object? data, string? key = null, bool idempotent = false)
    {
        var payload = Serialize(name, key, data);
        var reply = await AskAsync(new WorkersActor.Ask(_runtime.NextRequestId(), name, key, payload, Stopwatch.GetTimestamp(), Lasting: false, Idempotent: idempotent))
            .ConfigureAwait(false);
        return reply.IsError ? throw new WorkerException(reply) : reply.Data;
    }

    /// <summary>A payload's bytes for an ask of <paramref name="name"/>; a payload that is not allowed throws a <see cref="WorkerException"/> saying so.</summary>
    private byte[] Serialize(string name, string? key, object? data)
    {
        try
        {
            return WorkersRuntime.Payloads.Serialize(data);
        }
        catch (PayloadException e)
        {
            throw new WorkerException(new WorkerReply(name, key, null, e.Message));
        }
    }

    /// <summary>Hands an ask made outside any connection to the registry, counted as pending until its answer comes.</summary>
    private async Task<WorkerReply> AskAsync(WorkersActor.Ask ask)
    {
        _runtime.AskSent();
        try
        {
            return _runtime.ToReply(await Workers.Ask<WorkersActor.Answer>(ask, WorkersRuntime.Settings.AskTimeout + _operationTimeout).ConfigureAwait(false));
        }
        finally
        {
            _runtime.AsksEnded(1);
        }
    }

    /// <summary>
    /// Asks a worker once on every host that runs it, and awaits every answer (backgroundrb's <c>:host =&gt; :all</c>):
    /// on this machine, one of its WorkerHosts if it runs the worker; in a cluster, each host agent that offers it.
    /// For work every machine must do, such as clearing a cache or reading each machine's state. Each ask is handed
    /// to its host's instance as it is made, or fails at once if that instance is busy (it holds
    /// <c>max-in-flight</c> asks), and is never retried elsewhere.
    /// </summary>
    /// <param name="name">The worker name.</param>
    /// <param name="data">A payload of an allowed type, the same for every host.</param>
    /// <param name="key">The instance key, or <see langword="null"/>.</param>
    /// <returns>
    /// One <see cref="HostReply"/> per host, this machine first: the worker's reply there, or why there is none (a host
    /// that is unreachable or leaving is listed with its error, not asked).
    /// </returns>
    /// <exception cref="WorkerException">No host runs the worker, or the payload is not allowed.</exception>
    public async Task<IReadOnlyList<HostReply>> AskEveryHostAsync(string name, object? data, string? key = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var payload = Serialize(name, key, data);
        var hosts = await Workers.Ask<IReadOnlyList<WorkersActor.HostTarget>>(new WorkersActor.ListHosts(name, key), _operationTimeout).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        return await Task.WhenAll(hosts.Select(async host => new HostReply(host.Host, host.Instance is null
            ? new WorkerReply(name, key, null, host.Error)
            : await AskAsync(new WorkersActor.Ask(_runtime.NextRequestId(), name, key, payload, started, Lasting: false, At: host.Instance)).ConfigureAwait(false)))).ConfigureAwait(false);
    }

    /// <summary>Every running worker, with its process id and state (backgroundrb's <c>all_worker_info</c>).</summary>
    public async Task<IReadOnlyList<WorkerInfo>> GetWorkersAsync() =>
        await Workers.Ask<IReadOnlyList<WorkerInfo>>(WorkersActor.ListWorkers.Instance, _operationTimeout).ConfigureAwait(false);

    /// <summary>
    /// The latest <see cref="Worker.SendData"/> of each worker, by <c>name</c> or <c>name_key</c>
    /// (Packet's <c>result_hash</c>, filled by <c>:status</c> messages). Empty when workers are not enabled.
    /// </summary>
    public IReadOnlyDictionary<string, object?> WorkerResults => _runtime.Workers?.Results ?? new Dictionary<string, object?>();

    /// <summary>Logs a failure of reactor-level user code and hands it to <see cref="ErrorHandler"/>.</summary>
    internal void ReportError(Exception error, string where) => _runtime.ReportError(null, error, where);

    /// <summary>Records <paramref name="value"/> as the status of a worker, as <see cref="MetaPimp"/> does for each push.</summary>
    internal void RecordWorkerResult(string name, string? key, object? value) => _runtime.Workers?.RecordResult(name, key, value);

    /// <summary>
    /// Worker asks whose connection closed before their answer came: their replies are dropped, never
    /// delivered elsewhere. Counted when the connection closes (or when a reply reaches it while it closes).
    /// </summary>
    public long DroppedWorkerReplies => _runtime.Workers?.DroppedReplies ?? 0;

    /// <summary>
    /// Of <see cref="DroppedWorkerReplies"/>, the asks that were still waiting at the master for a free
    /// worker instance when their connection closed: they were dropped there and never ran.
    /// </summary>
    public long DroppedWorkerAsks => _runtime.Workers?.DroppedAsks ?? 0;

    internal WorkersRuntime WorkersRuntime => _runtime.Workers
        ?? throw new InvalidOperationException("workers are not enabled: set packet.workers.root or packet.workers.types, or packet.workers.enabled = on");

    private IActorRef Workers => _runtime.WorkersActor ?? throw new InvalidOperationException(
        "workers are not enabled: set packet.workers.root or packet.workers.types, or packet.workers.enabled = on");

    // ---- helpers -----------------------------------------------------------------------------

    private static Action<Connection>? Typed<T>(Action<T>? callback) where T : Connection =>
        callback is null ? null : connection => callback((T)connection);

    private static int ValidPort(int port) => port is >= 0 and <= IPEndPoint.MaxPort
        ? port
        : throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is 0 to 65535");

    private static async Task<IPAddress> ResolveAsync(string host)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (IPAddress.TryParse(host, out var address)) return address;
        var addresses = await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
               ?? addresses.FirstOrDefault()
               ?? throw new InvalidOperationException($"host '{host}' has no address");
    }

    /// <summary>Blocks at the edge; refuses to block an actor's thread, where it could starve the reactor.</summary>
    internal static TResult Blocking<TResult>(Func<Task<TResult>> operation)
    {
        if (InternalCurrentActorCellKeeper.Current is not null)
            throw new InvalidOperationException("this blocking call cannot run inside a handler hook or a reactor callback; use its async form");
        return operation().GetAwaiter().GetResult();
    }
}
