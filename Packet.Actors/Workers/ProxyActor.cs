using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's proxy for one worker instance (Packet's Pimp, running the user's <see cref="Pimp"/>):
/// owns its WorkerHost process, checks the host's registration, restarts it with backoff when it dies,
/// and passes what the worker pushes to the Pimp. Asks do not pass through it: the registry
/// (<see cref="WorkersActor"/>) sends them to the host and takes their outcomes, and hears from here
/// when the instance is ready and when its process is gone.
/// </summary>
/// <remarks>
/// States: <see cref="Starting"/> (process launched, waiting for it to register), <see cref="Initialising"/>
/// (registered, running its <see cref="Worker.WorkerInit"/>), <see cref="Running"/>,
/// <see cref="Restarting"/> (process gone or being killed; restart scheduled with backoff),
/// <see cref="Stopped"/>, <see cref="Deleting"/>.
/// </remarks>
internal sealed class ProxyActor : ActorBase, IWithTimers
{
    /// <summary>
    /// Stop the instance for good; answered with <see cref="Deleted"/> once its process is gone. With
    /// <paramref name="Gracefully"/> (the reactor is stopping and the instance holds no asks) its process
    /// is asked to end on its own (<see cref="IWorkerHost.End"/>) and killed only if it is still there
    /// after <see cref="EndTimeout"/>; otherwise it is killed at once.
    /// </summary>
    internal sealed record Delete(bool Gracefully)
    {
        public static readonly Delete Now = new(false);

        public static readonly Delete WhenIdle = new(true);
    }

    /// <summary>How long a WorkerHost asked to end on its own may take before it is killed.</summary>
    internal static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(5);

    internal sealed class Deleted
    {
        public static readonly Deleted Instance = new();
    }

    /// <summary>Ask for a <see cref="WorkerInfo"/>.</summary>
    internal sealed class Describe
    {
        public static readonly Describe Instance = new();
    }

    /// <summary>Answered with <see cref="Status.Success"/> once the instance has registered and finished its <see cref="Worker.WorkerInit"/>.</summary>
    internal sealed class WhenReady
    {
        public static readonly WhenReady Instance = new();
    }

    /// <summary>The pimp's <see cref="Pimp.SendRequest"/>.</summary>
    internal sealed record Request(object? Data);

    /// <summary>Registry → proxy: the instance holds <paramref name="Held"/> asks and has answered none for <c>ask-timeout</c>; kill it.</summary>
    internal sealed record Hung(int Held);

    private sealed record Exited(int HostId, int ExitCode);

    /// <summary>The link address host <paramref name="HostId"/> gave on its standard output (or, in process, the master's own).</summary>
    private sealed record HostLink(int HostId, Address Address);

    private sealed class Restart
    {
        public static readonly Restart Instance = new();
    }

    private sealed class StartTimedOut
    {
        public static readonly StartTimedOut Instance = new();
    }

    private sealed class EndTimedOut
    {
        public static readonly EndTimedOut Instance = new();
    }

    private readonly long _instance;
    private readonly WorkerType _type;
    private readonly string? _key;
    private readonly IReadOnlyDictionary<string, string> _options;
    private readonly WorkersRuntime _workers;
    private readonly Pimp _pimp;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _readyWaiters = new();
    private readonly LogThrottle _refusals = new(); // what a hostile peer can repeat at will
    private IWorkerHost? _process;
    private int _quickFailures;
    private long _registeredAt;

    public ProxyActor(long instance, WorkerType type, string? key, IReadOnlyDictionary<string, string> options, WorkersRuntime workers)
    {
        _instance = instance;
        _type = type;
        _key = key;
        _options = options;
        _workers = workers;
        _pimp = (Pimp)Activator.CreateInstance(type.Proxy)!;
        _pimp.Bind(Self, workers.Reactor, type.Name, key);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Label => _key is null ? _type.Name : $"{_type.Name}[{_key}]";

    private WorkerSettings Settings => _workers.Settings;

    protected override void PreStart()
    {
        InPimp(_pimp.InvokePimpInit, "PimpInit");
        Launch();
    }

    protected override void PostStop()
    {
        _process?.Dispose();
    }

    protected override bool Receive(object message) => throw new InvalidOperationException("replaced in PreStart");

    // ---- states ------------------------------------------------------------------------------

    /// <summary>
    /// Launched: waiting for the host's link address (<see cref="HostLink"/>, from its process's output) and its
    /// registration with this launch's <paramref name="secret"/>, from an actor at that address. A registration
    /// with the secret that comes before the address is kept (<paramref name="early"/>) until it comes.
    /// </summary>
    private bool Starting(string secret, Address? link, WorkerProtocol.Register? early, object message)
    {
        switch (message)
        {
            case HostLink hostLink when hostLink.HostId == _process?.Id && link is null:
                Context.Become(m => Starting(secret, hostLink.Address, null, m));
                if (early is not null) Register(secret, hostLink.Address, early);
                return true;
            case WorkerProtocol.Register register when link is null:
                if (WorkersRuntime.SameSecret(register.Secret, secret)) Context.Become(m => Starting(secret, null, register, m));
                else Refuse(register, "wrong secret");
                return true;
            case WorkerProtocol.Register register:
                Register(secret, link, register);
                return true;
            case StartTimedOut:
                _log.Warning("worker {Worker} did not register within {StartTimeout}; killing its process", Label, Settings.StartTimeout);
                _process?.Kill();
                return true;
            default:
                return Common(message);
        }
    }

    /// <summary>A registration while <see cref="Starting"/>, once the host's <paramref name="link"/> address is known.</summary>
    private void Register(string secret, Address link, WorkerProtocol.Register register)
    {
        if (!WorkersRuntime.SameSecret(register.Secret, secret))
        {
            Refuse(register, "wrong secret");
            return;
        }
        if (!register.Worker.Path.Address.Equals(link))
        {
            Refuse(register, $"its worker is not at its host's link address {link}");
            return;
        }
        register.Worker.Tell(new WorkerProtocol.Registered(Self, Context.Parent));
        _log.Info("worker {Worker} registered (host {HostPid}); waiting for its WorkerInit", Label, _process?.Id);
        Context.Become(m => Initialising(register.Worker, m));
    }

    /// <summary>Registered, and running <see cref="Worker.WorkerInit"/>: it may already talk to the master, but takes no asks.</summary>
    private bool Initialising(IActorRef worker, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Ready when Sender.Equals(worker):
                Timers.Cancel(StartTimedOut.Instance);
                _registeredAt = Environment.TickCount64;
                _log.Info("worker {Worker} is up (host {HostPid})", Label, _process?.Id);
                foreach (var waiter in _readyWaiters) waiter.Tell(new Status.Success(Label));
                _readyWaiters.Clear();
                Context.Parent.Tell(new WorkersActor.InstanceReady(Self, worker));
                Context.Become(m => Running(worker, m));
                return true;
            case StartTimedOut:
                _log.Warning("worker {Worker} did not finish WorkerInit within {StartTimeout} of starting; killing its process", Label, Settings.StartTimeout);
                _process?.Kill();
                return true;
            default:
                return Relay(worker, message) || Common(message);
        }
    }

    private bool Running(IActorRef worker, object message)
    {
        switch (message)
        {
            case Hung hung:
                _log.Warning("worker {Worker} holds {Held} asks and has answered none for {AskTimeout}; killing its process (packet.workers.on-ask-timeout = restart)",
                    Label, hung.Held, Settings.AskTimeout);
                _registeredAt = 0;
                _process?.Kill(); // its exit fails what it still held and schedules the restart
                return true;
            case WhenReady:
                Sender.Tell(new Status.Success(Label));
                return true;
            default:
                return Relay(worker, message) || Common(message);
        }
    }

    /// <summary>
    /// What passes between the worker and the master once it has registered, asks aside (they go through
    /// the registry). What claims to come from the worker is taken only from the actor that registered
    /// with this launch's secret.
    /// </summary>
    private bool Relay(IActorRef worker, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Push or WorkerProtocol.Forward or WorkerProtocol.Ready when !Sender.Equals(worker):
                if (_refusals.Due(out var skipped))
                    _log.Warning("worker {Worker}: dropped a {Message} from {Sender}, which is not its WorkerHost ({Skipped} more such refusals since the last warning)",
                        Label, message.GetType().Name, Sender.Path, skipped);
                return true;
            case WorkerProtocol.Push push:
                InPimp(() => _pimp.InvokeReceiveData(_workers.Payloads.Deserialize(push.Payload)), "ReceiveData");
                return true;
            case Request request:
                InPimp(() => worker.Tell(new WorkerProtocol.Deliver(_workers.Payloads.Serialize(request.Data))), "SendRequest");
                return true;
            case WorkerProtocol.Forward forward:
                Context.Parent.Forward(forward);
                return true;
            case WorkerProtocol.Deliver deliver:
                worker.Tell(deliver);
                return true;
            default:
                return false;
        }
    }

    private bool Restarting(object message)
    {
        switch (message)
        {
            case Restart:
                _workers.Reactor.Metrics.WorkerRestarted(_type.Name);
                Launch();
                return true;
            default:
                return Common(message);
        }
    }

    private bool Deleting(IActorRef requester, object message)
    {
        switch (message)
        {
            case Exited exited when exited.HostId == _process?.Id:
                _log.Info("worker {Worker} deleted (host {HostPid} exited with code {ExitCode})", Label, exited.HostId, exited.ExitCode);
                requester.Tell(Deleted.Instance);
                Context.Stop(Self);
                return true;
            case EndTimedOut:
                _log.Warning("worker {Worker} did not end within {EndTimeout} of being asked; killing its process", Label, EndTimeout);
                _process?.Kill();
                return true;
            case Delete:
                return true;
            default:
                return Common(message);
        }
    }

    /// <summary>Messages every state handles.</summary>
    private bool Common(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Push or WorkerProtocol.Forward or WorkerProtocol.Ready:
                _log.Debug("worker {Worker}: dropped a {Message} from {Sender}: it is {State}", Label, message.GetType().Name, Sender.Path, StateName());
                return true;
            case WorkerProtocol.Register register:
                Refuse(register, $"instance {_instance} is {StateName()}, not waiting for a registration");
                return true;
            case Exited exited when exited.HostId == _process?.Id:
                OnExit(exited.HostId, exited.ExitCode);
                return true;
            case Exited:
                return true; // a process replaced earlier
            case HostLink:
                return true; // of a process replaced earlier, or a second one: the first counts
            case Hung:
                return true; // the process is already gone
            case Delete delete:
                Timers.Cancel(Restart.Instance);
                Timers.Cancel(StartTimedOut.Instance);
                if (_process is null)
                {
                    Sender.Tell(Deleted.Instance);
                    Context.Stop(Self);
                    return true;
                }
                var requester = Sender;
                Context.Become(m => Deleting(requester, m));
                if (delete.Gracefully)
                {
                    Timers.StartSingleTimer(EndTimedOut.Instance, EndTimedOut.Instance, EndTimeout);
                    _process.End();
                }
                else
                {
                    _process.Kill();
                }
                return true;
            case Describe:
                Sender.Tell(new WorkerInfo(_type.Name, _key, _process?.ProcessId, StateName(), Host: null));
                return true;
            case WhenReady:
                _readyWaiters.Add(Sender);
                return true;
            case WorkerProtocol.Deliver or Request:
                _log.Warning("a request to {Worker} was dropped: the worker is {State}", Label, StateName());
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// A WorkerHost must prove it is this launch's; anything else is refused and logged, with no answer: an
    /// answer would go where the message says, and Akka.Remote ends the master's actor system when a TLS
    /// handshake it starts fails. A host of its own that is refused is killed by the master anyway.
    /// </summary>
    private void Refuse(WorkerProtocol.Register register, string why)
    {
        if (_refusals.Due(out var skipped))
            _log.Warning("refused a registration as worker {Worker} from {Sender}: {Reason} ({Skipped} more such refusals since the last warning)", Label, register.Worker.Path, why, skipped);
    }

    /// <summary>A proxy that throws is reported; it keeps routing.</summary>
    private void InPimp(Action action, string where)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            _workers.Reactor.ReportError(e, $"{_type.Proxy.Name}.{where} of worker {Label}");
        }
    }

    private string StateName() => _process is null ? Settings.Restart ? "restarting" : "stopped" : _registeredAt == 0 ? "starting" : "running";

    // ---- process -----------------------------------------------------------------------------

    private void Launch()
    {
        _registeredAt = 0;
        var self = Self;
        var secret = WorkersRuntime.NewSecret();
        try
        {
            _process = _workers.StartHost(_instance, secret, _type, _key, _options, _log,
                (id, address) => self.Tell(new HostLink(id, address)), (id, code) => self.Tell(new Exited(id, code)));
        }
        catch (Exception e)
        {
            _log.Error(e, "cannot start a WorkerHost for {Worker}", Label);
            _process = null;
            ScheduleRestart();
            return;
        }
        Timers.StartSingleTimer(StartTimedOut.Instance, StartTimedOut.Instance, Settings.StartTimeout);
        Context.Become(m => Starting(secret, null, null, m));
    }

    /// <summary>The process is gone: the registry fails what it held, and it is restarted unless the policy says never.</summary>
    private void OnExit(int hostId, int exitCode)
    {
        var upFor = _registeredAt == 0 ? 0 : Environment.TickCount64 - _registeredAt;
        _registeredAt = 0;
        _log.Warning("worker {Worker} (host {HostPid}) exited with code {ExitCode}; the asks it held fail", Label, hostId, exitCode);
        Context.Parent.Tell(new WorkersActor.InstanceDown(Self, $"worker {Label} is unavailable: its process exited with code {exitCode}",
            Settings.Restart ? null : $"worker {Label} is stopped: its process died and packet.workers.restart.policy = never; start it again with StartWorker after DeleteWorker"));
        _process?.Dispose();
        _process = null;
        if (upFor > Settings.MaxBackoff.TotalMilliseconds) _quickFailures = 0;
        if (Settings.Restart)
        {
            ScheduleRestart();
            return;
        }
        _log.Warning("worker {Worker} stays stopped (packet.workers.restart.policy = never)", Label);
        Context.Become(Stopped);
    }

    /// <summary>The process died and the policy says not to restart it: asks fail until the worker is deleted.</summary>
    private bool Stopped(object message) => Common(message);

    private void ScheduleRestart()
    {
        var delay = TimeSpan.FromTicks(Math.Min(Settings.MaxBackoff.Ticks, Settings.MinBackoff.Ticks << Math.Min(_quickFailures, 20)));
        _quickFailures++;
        _log.Info("restarting worker {Worker} in {Delay}", Label, delay);
        Timers.StartSingleTimer(Restart.Instance, Restart.Instance, delay);
        Context.Become(Restarting);
    }
}
