using Akka.Actor;
using Akka.Event;
using Packet.Actors.Runtime;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's proxy for one running worker (Packet's MetaPimp): owns its WorkerHost process,
/// forwards asks to it, and routes each reply to the actor that asked, by a request id that is never
/// reused. A reply for an asker that has gone is dropped, logged and counted, never sent elsewhere.
/// </summary>
/// <remarks>
/// States: <see cref="Starting"/> (process launched, waiting for it to register), <see cref="Running"/>,
/// <see cref="Restarting"/> (process gone, restart scheduled with backoff), <see cref="Deleting"/>.
/// Asks that arrive while no worker is registered wait, bounded by <c>ask-timeout</c>.
/// </remarks>
internal sealed class ProxyActor : ActorBase, IWithTimers
{
    /// <summary>The answer to one ask, sent to the asker.</summary>
    internal sealed record Answer(long RequestId, string Worker, string? Key, byte[]? Payload, string? Error);

    /// <summary>An ask routed here by <see cref="WorkersActor"/>; <see cref="ActorBase.Sender"/> is the asker.</summary>
    internal sealed record Ask(long RequestId, byte[] Payload);

    /// <summary>Stop the worker for good; answered with <see cref="Deleted"/> once its process is gone.</summary>
    internal sealed class Delete
    {
        public static readonly Delete Instance = new();
    }

    internal sealed class Deleted
    {
        public static readonly Deleted Instance = new();
    }

    /// <summary>Ask for a <see cref="WorkerInfo"/>.</summary>
    internal sealed class Describe
    {
        public static readonly Describe Instance = new();
    }

    private sealed record Exited(int ProcessId, int ExitCode);

    private sealed class Restart
    {
        public static readonly Restart Instance = new();
    }

    private sealed class StartTimedOut
    {
        public static readonly StartTimedOut Instance = new();
    }

    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    private sealed record Pending(IActorRef Asker, long Deadline, byte[] Payload)
    {
        public bool AskerGone { get; set; }

        /// <summary>Handed to the current process; only those fail when it dies; the rest wait for the next one.</summary>
        public bool Sent { get; set; }
    }

    private readonly WorkerType _type;
    private readonly string? _key;
    private readonly IReadOnlyDictionary<string, string> _options;
    private readonly WorkersRuntime _workers;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<long, Pending> _pending = new();
    private readonly HashSet<IActorRef> _watchedAskers = new();
    private readonly List<IActorRef> _readyWaiters = new();
    private WorkerHostProcess? _process;
    private int _quickFailures;
    private long _registeredAt;

    public ProxyActor(WorkerType type, string? key, IReadOnlyDictionary<string, string> options, WorkersRuntime workers)
    {
        _type = type;
        _key = key;
        _options = options;
        _workers = workers;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private string Label => _key is null ? _type.Name : $"{_type.Name}[{_key}]";

    private WorkerSettings Settings => _workers.Settings;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromMilliseconds(250));
        Launch();
    }

    protected override void PostStop()
    {
        _process?.Dispose();
        FailAll($"worker {Label} is unavailable: the reactor stopped");
    }

    protected override bool Receive(object message) => throw new InvalidOperationException("replaced in PreStart");

    // ---- states ------------------------------------------------------------------------------

    private bool Starting(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Register register:
                Timers.Cancel(StartTimedOut.Instance);
                _registeredAt = Environment.TickCount64;
                Context.Watch(register.Worker);
                register.Worker.Tell(new WorkerProtocol.Registered(Self));
                _log.Info("worker {0} is up (process {1})", Label, _process?.Id);
                foreach (var (id, pending) in _pending.Where(p => !p.Value.Sent))
                {
                    pending.Sent = true;
                    register.Worker.Tell(new WorkerProtocol.Work(id, pending.Payload));
                }
                foreach (var waiter in _readyWaiters) waiter.Tell(new Status.Success(Label));
                _readyWaiters.Clear();
                Context.Become(m => Running(register.Worker, m));
                return true;
            case StartTimedOut:
                _log.Warning("worker {0} did not register within {1}; killing its process", Label, Settings.StartTimeout);
                _process?.Kill();
                return true;
            case Ask ask:
                Track(ask); // sent once the worker registers
                return true;
            default:
                return Common(message);
        }
    }

    private bool Running(IActorRef worker, object message)
    {
        switch (message)
        {
            case Ask ask:
                Track(ask).Sent = true;
                worker.Tell(new WorkerProtocol.Work(ask.RequestId, ask.Payload));
                return true;
            case WorkerProtocol.Done done:
                Route(done.RequestId, done.Payload, null);
                return true;
            case WorkerProtocol.Failed failed:
                Route(failed.RequestId, null, failed.Error);
                return true;
            case WorkerProtocol.Push push:
                _workers.RecordResult(_type.Name, _key, push.Payload);
                return true;
            case WorkerProtocol.Forward forward:
                Context.Parent.Forward(forward);
                return true;
            case WorkerProtocol.Deliver deliver:
                worker.Tell(deliver);
                return true;
            default:
                return Common(message);
        }
    }

    private bool Restarting(object message)
    {
        switch (message)
        {
            case Restart:
                Launch();
                return true;
            case Ask ask:
                Track(ask);
                return true;
            default:
                return Common(message);
        }
    }

    private bool Deleting(IActorRef requester, object message)
    {
        switch (message)
        {
            case Exited exited when exited.ProcessId == _process?.Id:
                _log.Info("worker {0} deleted (process {1} exited)", Label, exited.ProcessId);
                requester.Tell(Deleted.Instance);
                Context.Stop(Self);
                return true;
            case Ask ask:
                Sender.Tell(Failure(ask.RequestId, $"worker {Label} is being deleted"));
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
            case Exited exited when exited.ProcessId == _process?.Id:
                OnExit(exited.ExitCode);
                return true;
            case Exited:
                return true; // a process replaced earlier
            case WorkerProtocol.Deliver:
                _log.Warning("a request from another worker to {0} was dropped: the worker is {1}", Label, StateName());
                return true;
            case Sweep:
                ExpireAsks();
                return true;
            case Delete:
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
                _process.Kill();
                return true;
            case Describe:
                Sender.Tell(new WorkerInfo(_type.Name, _key, _process?.Id, StateName()));
                return true;
            case WorkersActor.WhenReady:
                _readyWaiters.Add(Sender);
                return true;
            case Terminated terminated when _watchedAskers.Remove(terminated.ActorRef):
                foreach (var pending in _pending.Values.Where(p => p.Asker.Equals(terminated.ActorRef))) pending.AskerGone = true;
                return true;
            case Terminated:
                return true; // the worker's actor: its process exit is what counts
            case WorkerProtocol.Done done:
                Route(done.RequestId, done.Payload, null); // a reply that raced a restart
                return true;
            case WorkerProtocol.Failed failed:
                Route(failed.RequestId, null, failed.Error);
                return true;
            default:
                return false;
        }
    }

    private string StateName() => _process is null ? "restarting" : _registeredAt == 0 ? "starting" : "running";

    // ---- process -----------------------------------------------------------------------------

    private void Launch()
    {
        _registeredAt = 0;
        var self = Self;
        var label = Label;
        var log = _log;
        try
        {
            _process = WorkerHostProcess.Start(Settings.Host, _workers.HostStart(_type, _key, _options),
                line => log.Info("[{0}] {1}", label, line),
                (pid, code) => self.Tell(new Exited(pid, code)));
        }
        catch (Exception e)
        {
            _log.Error(e, "cannot start a WorkerHost for {0}", Label);
            _process = null;
            ScheduleRestart();
            return;
        }
        Timers.StartSingleTimer(StartTimedOut.Instance, StartTimedOut.Instance, Settings.StartTimeout);
        Context.Become(Starting);
    }

    private void OnExit(int exitCode)
    {
        var upFor = _registeredAt == 0 ? 0 : Environment.TickCount64 - _registeredAt;
        var sent = _pending.Where(p => p.Value.Sent).Select(p => p.Key).ToArray();
        _log.Warning("worker {0} exited with code {1}; {2} asks it was serving fail", Label, exitCode, sent.Length);
        foreach (var id in sent) Route(id, null, $"worker {Label} is unavailable: its process exited with code {exitCode}");
        _process?.Dispose();
        _process = null;
        if (upFor > Settings.MaxBackoff.TotalMilliseconds) _quickFailures = 0;
        ScheduleRestart();
    }

    private void ScheduleRestart()
    {
        var delay = TimeSpan.FromTicks(Math.Min(Settings.MaxBackoff.Ticks, Settings.MinBackoff.Ticks << Math.Min(_quickFailures, 20)));
        _quickFailures++;
        _log.Info("restarting worker {0} in {1}", Label, delay);
        Timers.StartSingleTimer(Restart.Instance, Restart.Instance, delay);
        Context.Become(Restarting);
    }

    // ---- asks --------------------------------------------------------------------------------

    private Pending Track(Ask ask)
    {
        var pending = new Pending(Sender, Environment.TickCount64 + (long)Settings.AskTimeout.TotalMilliseconds, ask.Payload);
        _pending[ask.RequestId] = pending;
        if (_watchedAskers.Add(Sender)) Context.Watch(Sender);
        return pending;
    }

    private void Route(long requestId, byte[]? payload, string? error)
    {
        if (!_pending.Remove(requestId, out var pending))
        {
            _log.Debug("worker {0} answered request {1}, which had already failed or timed out", Label, requestId);
            return;
        }
        if (pending.AskerGone)
        {
            _workers.CountDroppedReply();
            _log.Info("dropped the reply of {0} to request {1}: the connection that asked is gone", Label, requestId);
            return;
        }
        pending.Asker.Tell(new Answer(requestId, _type.Name, _key, payload, error));
    }

    private Answer Failure(long requestId, string error) => new(requestId, _type.Name, _key, null, error);

    private void FailAll(string error)
    {
        foreach (var (id, pending) in _pending)
            if (!pending.AskerGone) pending.Asker.Tell(Failure(id, error));
        _pending.Clear();
    }

    private void ExpireAsks()
    {
        var now = Environment.TickCount64;
        var expired = _pending.Where(p => p.Value.Deadline <= now).Select(p => p.Key).ToArray();
        if (expired.Length == 0) return;
        foreach (var id in expired)
            Route(id, null, $"worker {Label} did not answer within {Settings.AskTimeout}");
        if (Settings.RestartOnAskTimeout && _process is { } process)
        {
            _log.Warning("worker {0} let {1} asks time out; killing its process (packet.workers.on-ask-timeout = restart)", Label, expired.Length);
            process.Kill();
            _registeredAt = 0;
            Context.Become(Restarting); // new asks wait for the next process; its exit schedules the restart
        }
    }
}
