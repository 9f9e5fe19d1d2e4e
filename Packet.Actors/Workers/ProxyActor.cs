using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's proxy for one worker instance (Packet's MetaPimp): owns its WorkerHost process,
/// passes it the asks the registry hands over, and routes each reply to the actor that asked, by a
/// request id that is never reused. A reply for an asker that has gone is dropped, logged and counted,
/// never sent elsewhere. Every ask it is handed ends exactly once (answered, failed or timed out), and
/// the registry hears of it, so it always knows how many asks each instance holds.
/// </summary>
/// <remarks>
/// States: <see cref="Starting"/> (process launched, waiting for it to register), <see cref="Initialising"/>
/// (registered, running its <see cref="Worker.WorkerInit"/>), <see cref="Running"/>,
/// <see cref="Restarting"/> (process gone or being killed; restart scheduled with backoff),
/// <see cref="Deleting"/>. The registry hands asks only to running instances; one that races a
/// failure fails at once with "unavailable".
/// </remarks>
internal sealed class ProxyActor : ActorBase, IWithTimers
{
    /// <summary>The answer to one ask, sent to the asker.</summary>
    internal sealed record Answer(long RequestId, string Worker, string? Key, ReadOnlyMemory<byte>? Payload, string? Error);

    /// <summary>An ask handed over by <see cref="WorkersActor"/>; <see cref="ActorBase.Sender"/> is the asker, watched when <paramref name="Lasting"/>.</summary>
    internal sealed record Ask(long RequestId, byte[] Payload, bool Lasting);

    /// <summary>
    /// Stop the instance for good; answered with <see cref="Deleted"/> once its process is gone. With
    /// <paramref name="Gracefully"/> (the reactor is stopping) an idle instance's process is asked to end on
    /// its own (<see cref="IWorkerHost.End"/>) and killed only if it is still there after <see cref="EndTimeout"/>;
    /// otherwise, or while it still holds asks (they outlived the reactor's drain), it is killed at once.
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

    private sealed record Exited(int HostId, int ExitCode);

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

    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    /// <summary>Sends the jobs gathered since the last one; it queues behind the asks that came with them.</summary>
    private sealed class SendWork
    {
        public static readonly SendWork Instance = new();
    }

    private sealed record Pending(IActorRef Asker, long Deadline)
    {
        public bool AskerGone { get; set; }
    }

    private readonly long _instance;
    private readonly WorkerType _type;
    private readonly string? _key;
    private readonly IReadOnlyDictionary<string, string> _options;
    private readonly WorkersRuntime _workers;
    private readonly Pimp _pimp;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Pending> _pending = new();
    private readonly HashSet<IActorRef> _watchedAskers = new();
    private readonly List<IActorRef> _readyWaiters = new();
    private readonly Batch<WorkerProtocol.Job> _jobs;
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
        _jobs = new Batch<WorkerProtocol.Job>(workers.Payloads.MaxPayload, job => job.Payload.Length);
        _pimp = (Pimp)Activator.CreateInstance(type.Proxy)!;
        _pimp.Bind(Self, workers.Reactor, type.Name, key);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Label => _key is null ? _type.Name : $"{_type.Name}[{_key}]";

    private WorkerSettings Settings => _workers.Settings;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromMilliseconds(250));
        InPimp(_pimp.InvokePimpInit, "PimpInit");
        Launch();
    }

    protected override void PostStop()
    {
        _process?.Dispose();
        FailAll($"worker {Label} is unavailable: the reactor stopped");
    }

    protected override bool Receive(object message) => throw new InvalidOperationException("replaced in PreStart");

    // ---- states ------------------------------------------------------------------------------

    /// <summary>Launched: waiting for the host to register with this launch's <paramref name="secret"/>.</summary>
    private bool Starting(string secret, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Register register when WorkersRuntime.SameSecret(register.Secret, secret):
                register.Worker.Tell(new WorkerProtocol.Registered(Self));
                _log.Info("worker {0} registered (host {1}); waiting for its WorkerInit", Label, _process?.Id);
                Context.Become(m => Initialising(register.Worker, m));
                return true;
            case WorkerProtocol.Register register:
                Refuse(register, "wrong secret");
                return true;
            case StartTimedOut:
                _log.Warning("worker {0} did not register within {1}; killing its process", Label, Settings.StartTimeout);
                _process?.Kill();
                return true;
            default:
                return Common(message);
        }
    }

    /// <summary>Registered, and running <see cref="Worker.WorkerInit"/>: it may already talk to the master, but takes no asks.</summary>
    private bool Initialising(IActorRef worker, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Ready when Sender.Equals(worker):
                Timers.Cancel(StartTimedOut.Instance);
                _registeredAt = Environment.TickCount64;
                _log.Info("worker {0} is up (host {1})", Label, _process?.Id);
                foreach (var waiter in _readyWaiters) waiter.Tell(new Status.Success(Label));
                _readyWaiters.Clear();
                Context.Parent.Tell(new WorkersActor.InstanceReady(Self));
                Context.Become(m => Running(worker, m));
                return true;
            case StartTimedOut:
                _log.Warning("worker {0} did not finish WorkerInit within {1} of starting; killing its process", Label, Settings.StartTimeout);
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
            case Ask ask:
                Track(ask);
                if (_jobs.IsEmpty) Self.Tell(SendWork.Instance);
                if (_jobs.Add(new WorkerProtocol.Job(ask.RequestId, ask.Payload)) is { } full) worker.Tell(new WorkerProtocol.Work(full));
                return true;
            case SendWork:
                if (!_jobs.IsEmpty) worker.Tell(new WorkerProtocol.Work(_jobs.Take()));
                return true;
            case WhenReady:
                Sender.Tell(new Status.Success(Label));
                return true;
            default:
                return Relay(worker, message) || Common(message);
        }
    }

    /// <summary>
    /// What passes between the worker and the master once it has registered, asks aside. What claims to
    /// come from the worker is taken only from the actor that registered with this launch's secret.
    /// </summary>
    private bool Relay(IActorRef worker, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Outcomes or WorkerProtocol.Push or WorkerProtocol.Forward or WorkerProtocol.Ready when !Sender.Equals(worker):
                if (_refusals.Due(out var skipped))
                    _log.Warning("worker {0}: dropped a {1} from {2}, which is not its WorkerHost ({3} more such refusals since the last warning)",
                        Label, message.GetType().Name, Sender.Path, skipped);
                return true;
            case WorkerProtocol.Outcomes outcomes:
                foreach (var outcome in outcomes.Items) Finish(outcome.RequestId, outcome.Payload, outcome.Error);
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
                _log.Info("worker {0} deleted (host {1} exited with code {2})", Label, exited.HostId, exited.ExitCode);
                requester.Tell(Deleted.Instance);
                Context.Stop(Self);
                return true;
            case EndTimedOut:
                _log.Warning("worker {0} did not end within {1} of being asked; killing its process", Label, EndTimeout);
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
            case Ask ask:
                Sender.Tell(new Answer(ask.RequestId, _type.Name, _key, null, $"worker {Label} is unavailable: it is {StateName()}"));
                Context.Parent.Tell(new WorkersActor.AskDone(Self));
                return true;
            case WorkerProtocol.Outcomes or WorkerProtocol.Push or WorkerProtocol.Forward or WorkerProtocol.Ready:
                _log.Debug("worker {0}: dropped a {1} from {2}: it is {3}", Label, message.GetType().Name, Sender.Path, StateName());
                return true;
            case WorkerProtocol.Register register:
                Refuse(register, $"instance {_instance} is {StateName()}, not waiting for a registration");
                return true;
            case SendWork:
                _jobs.Take(); // the instance went down first: FailAll has answered these asks
                return true;
            case Exited exited when exited.HostId == _process?.Id:
                OnExit(exited.ExitCode);
                return true;
            case Exited:
                return true; // a process replaced earlier
            case Sweep:
                ExpireAsks();
                return true;
            case Delete delete:
                var idle = _pending.Count == 0; // asks that outlived the reactor's drain: likely hung, so it is killed
                FailAll($"worker {Label} was deleted");
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
                if (delete.Gracefully && idle)
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
                Sender.Tell(new WorkerInfo(_type.Name, _key, _process?.ProcessId, StateName()));
                return true;
            case WhenReady:
                _readyWaiters.Add(Sender);
                return true;
            case WorkerProtocol.Deliver or Request:
                _log.Warning("a request to {0} was dropped: the worker is {1}", Label, StateName());
                return true;
            case Terminated terminated:
                _watchedAskers.Remove(terminated.ActorRef);
                foreach (var pending in _pending.Values.Where(p => p.Asker.Equals(terminated.ActorRef))) pending.AskerGone = true;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A WorkerHost must prove it is this launch's; anything else is refused and logged.</summary>
    private void Refuse(WorkerProtocol.Register register, string why)
    {
        if (_refusals.Due(out var skipped))
            _log.Warning("refused a registration as worker {0} from {1}: {2} ({3} more such refusals since the last warning)", Label, register.Worker.Path, why, skipped);
        Sender.Tell(new WorkerProtocol.Refused($"this master did not start you ({why})"));
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
            _process = _workers.StartHost(_instance, secret, _type, _key, _options, _log, (id, code) => self.Tell(new Exited(id, code)));
        }
        catch (Exception e)
        {
            _log.Error(e, "cannot start a WorkerHost for {0}", Label);
            _process = null;
            ScheduleRestart();
            return;
        }
        Timers.StartSingleTimer(StartTimedOut.Instance, StartTimedOut.Instance, Settings.StartTimeout);
        Context.Become(m => Starting(secret, m));
    }

    /// <summary>Stops taking asks until the next process registers.</summary>
    private void GoDown()
    {
        _registeredAt = 0;
        Context.Parent.Tell(new WorkersActor.InstanceDown(Self));
    }

    private void OnExit(int exitCode)
    {
        var upFor = _registeredAt == 0 ? 0 : Environment.TickCount64 - _registeredAt;
        GoDown();
        _log.Warning("worker {0} exited with code {1}; {2} asks it was serving fail", Label, exitCode, _pending.Count);
        FailAll($"worker {Label} is unavailable: its process exited with code {exitCode}");
        _process?.Dispose();
        _process = null;
        if (upFor > Settings.MaxBackoff.TotalMilliseconds) _quickFailures = 0;
        if (Settings.Restart)
        {
            ScheduleRestart();
            return;
        }
        _log.Warning("worker {0} stays stopped (packet.workers.restart.policy = never)", Label);
        Context.Parent.Tell(new WorkersActor.InstanceStopped(Self));
        Context.Become(Stopped);
    }

    /// <summary>The process died and the policy says not to restart it: asks fail until the worker is deleted.</summary>
    private bool Stopped(object message) => Common(message);

    private void ScheduleRestart()
    {
        var delay = TimeSpan.FromTicks(Math.Min(Settings.MaxBackoff.Ticks, Settings.MinBackoff.Ticks << Math.Min(_quickFailures, 20)));
        _quickFailures++;
        _log.Info("restarting worker {0} in {1}", Label, delay);
        Timers.StartSingleTimer(Restart.Instance, Restart.Instance, delay);
        Context.Become(Restarting);
    }

    // ---- asks --------------------------------------------------------------------------------

    private void Track(Ask ask)
    {
        _pending[ask.RequestId] = new Pending(Sender, Environment.TickCount64 + (long)Settings.AskTimeout.TotalMilliseconds);
        if (ask.Lasting && _watchedAskers.Add(Sender)) Context.Watch(Sender);
    }

    /// <summary>The one place an ask ends: the asker hears the outcome (unless it has gone) and the registry frees a slot.</summary>
    private void Finish(long requestId, ReadOnlyMemory<byte>? payload, string? error)
    {
        if (!_pending.Remove(requestId, out var pending))
        {
            _log.Debug("worker {0} answered request {1}, which had already failed or timed out", Label, requestId);
            return;
        }
        Context.Parent.Tell(new WorkersActor.AskDone(Self));
        if (pending.AskerGone)
        {
            _log.Debug("dropped the reply of {0} to request {1}: the connection that asked is gone (counted when it closed)", Label, requestId);
            return;
        }
        pending.Asker.Tell(new Answer(requestId, _type.Name, _key, payload, error));
    }

    private void FailAll(string error)
    {
        foreach (var id in _pending.Keys.ToArray()) Finish(id, null, error);
    }

    private void ExpireAsks()
    {
        var now = Environment.TickCount64;
        var expired = _pending.Where(p => p.Value.Deadline <= now).Select(p => p.Key).ToArray();
        if (expired.Length == 0) return;
        foreach (var id in expired)
            Finish(id, null, $"worker {Label} did not answer within {Settings.AskTimeout}");
        if (Settings.RestartOnAskTimeout && _process is { } process && _registeredAt != 0)
        {
            _log.Warning("worker {0} let {1} asks time out; killing its process (packet.workers.on-ask-timeout = restart)", Label, expired.Length);
            GoDown();
            process.Kill(); // its exit fails what it still held and schedules the restart
        }
    }
}
