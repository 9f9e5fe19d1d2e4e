using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's worker registry, at <c>/user/workers</c>, and the one place worker asks are tracked.
/// It starts and deletes workers (one <see cref="ProxyActor"/> and process per instance) and hands each
/// WorkerHost registration to the proxy of the instance it names. Each ask it takes goes on its
/// <see cref="AskLedger"/> and, in a <see cref="WorkerProtocol.Work"/> batch, straight to the WorkerHost
/// of the instance with the fewest asks in hand; the host's <see cref="WorkerProtocol.Outcomes"/> come
/// back here, and each goes to the actor that asked. When every instance is full, asks wait here.
/// </summary>
/// <remarks>
/// A round trip is two messages on the master, besides the link: the asker's <see cref="Ask"/> and the
/// <see cref="Answer"/> it gets. Every ask gets exactly one answer, by its deadline at the latest.
/// With <c>on-ask-timeout = restart</c>, an instance that holds asks and has answered none for
/// <c>ask-timeout</c> is hung: it is killed and restarted (a busy instance that keeps answering is not).
/// </remarks>
internal sealed class WorkersActor : ActorBase, IWithTimers
{
    /// <summary>
    /// Start a worker; answered with <see cref="Status.Success"/> once every instance registered, or
    /// <see cref="Status.Failure"/>. With <paramref name="Class"/>, a worker named in code joins the catalog first.
    /// </summary>
    internal sealed record StartWorker(string Name, string? Key, IReadOnlyDictionary<string, string> Options, WorkerType? Class = null);

    /// <summary>Stop a worker's processes and forget it; answered with <see cref="Status.Success"/> or <see cref="Status.Failure"/>.</summary>
    internal sealed record DeleteWorker(string Name, string? Key);

    /// <summary>
    /// The reactor is stopping: ask every worker process to end on its own, kill those that do not, and
    /// forget them all; answered with <see cref="Status.Success"/> once every process is gone.
    /// </summary>
    internal sealed class EndAll
    {
        public static readonly EndAll Instance = new();
    }

    /// <summary>What an asker attaches to its ask, to have it back with the <see cref="Answer"/>; the registry never reads it.</summary>
    internal interface IAskContext;

    /// <summary>
    /// Ask a worker; the asker (<see cref="ActorBase.Sender"/>) gets exactly one <see cref="Answer"/>, by
    /// <c>ask-timeout</c> after <paramref name="Started"/> (<see cref="System.Diagnostics.Stopwatch"/> time,
    /// when <c>AskWorker</c> was called) at the latest. <paramref name="Lasting"/> marks an asker that lives on (a connection), which sends
    /// <see cref="AskerGone"/> when it stops; a temporary asker (an awaited ask) does not. An <paramref name="Idempotent"/> ask
    /// held by an instance whose host is lost is handed to another instance, once (<see cref="InstanceDown.Retry"/>).
    /// </summary>
    /// <remarks>
    /// With <paramref name="At"/> (an instance's proxy, from <see cref="ListHosts"/>), the ask goes to that instance
    /// and no other, at once: it never waits in the pool's queue, which any instance may take from, so it fails if
    /// the instance is no longer ready, or busy (it holds max-in-flight asks).
    /// </remarks>
    internal sealed record Ask(long RequestId, string Worker, string? Key, byte[] Payload, long Started, bool Lasting, IAskContext? Context = null, bool Idempotent = false,
        IActorRef? At = null)
    {
        public override string ToString() => $"Ask({RequestId}, {Worker}, {Payload.Length} bytes)";
    }

    /// <summary>The asks one asker made together (the lines of one read), for one message.</summary>
    internal sealed record Asks(Ask[] Items)
    {
        public override string ToString() => $"Asks({Items.Length})";
    }

    /// <summary>Answers for one asker that were ready together, for one message (and, on a connection, one write).</summary>
    internal sealed record Answers(Answer[] Items)
    {
        public override string ToString() => $"Answers({Items.Length})";
    }

    /// <summary>The one outcome of an <see cref="Ask"/>: the reply's bytes, or the error that replaced them.</summary>
    internal sealed record Answer(long RequestId, string Worker, string? Key, IAskContext? Context, ReadOnlyMemory<byte>? Payload, string? Error)
    {
        public override string ToString() => Error is null ? $"Answer({RequestId}, {Payload?.Length ?? 0} bytes)" : $"Answer({RequestId}, error)";
    }

    /// <summary>
    /// Answered with the hosts that run a worker, one <see cref="HostTarget"/> each: this machine (its ready instance
    /// with the fewest asks in hand) if it runs the worker, and each host agent's instance; or with a
    /// <see cref="Status.Failure"/> holding a <see cref="WorkerException"/> when no instance of it is known.
    /// </summary>
    internal sealed record ListHosts(string Worker, string? Key);

    /// <summary>One host of a worker (<see langword="null"/>: this machine): the instance to ask there, or why there is none to ask.</summary>
    internal sealed record HostTarget(string? Host, IActorRef? Instance, string? Error);

    /// <summary>Answered with every worker instance's <see cref="WorkerInfo"/>.</summary>
    internal sealed class ListWorkers
    {
        public static readonly ListWorkers Instance = new();
    }

    /// <summary>
    /// Connection → registry, as it stops with asks outstanding: its asks still waiting here are dropped
    /// (and counted) before they reach a worker, and the replies to the others are dropped when they come.
    /// </summary>
    internal sealed record AskerGone(IActorRef Asker);

    /// <summary>Proxy → registry: the instance registered and finished its WorkerInit; <paramref name="Worker"/> takes its jobs.</summary>
    internal sealed record InstanceReady(IActorRef Proxy, IActorRef Worker);

    /// <summary>
    /// A host agent's offer of a worker, as one more instance of it: <paramref name="Proxy"/> (a
    /// <see cref="Cluster.RemoteInstanceActor"/>) takes the place of a <see cref="ProxyActor"/> and of the
    /// worker actor both, and tells <see cref="InstanceReady"/> and <see cref="InstanceDown"/> as the host comes and goes.
    /// <paramref name="Spare"/> (<c>packet.cluster.prefer-local</c>): it takes asks only when no other instance is free.
    /// <paramref name="Host"/> is the agent's cluster address.
    /// </summary>
    internal sealed record AddInstance(string Name, string? Key, int MaxInFlight, IActorRef Proxy, bool Spare, string Host);

    /// <summary>A remote instance's agent is leaving: the instance answers what it holds, and takes no new asks.</summary>
    internal sealed record InstanceDraining(IActorRef Proxy);

    /// <summary>
    /// Proxy → registry: the instance's process is gone, or its host; the asks it held fail with <paramref name="Error"/>.
    /// <paramref name="Gone"/>, when it will not be back by itself soon (<c>restart.policy = never</c>, an unreachable
    /// host): why no ask waits for it until it is ready again. <paramref name="Retry"/>, when its host was lost (not
    /// its process, which an ask may have killed): the idempotent asks it held, not yet retried, wait for another
    /// instance instead, under their first deadline.
    /// </summary>
    internal sealed record InstanceDown(IActorRef Proxy, string Error, string? Gone, bool Retry = false);

    /// <summary>The ask due first may be due.</summary>
    private sealed class Expire
    {
        public static readonly Expire Instance = new();
    }

    /// <summary>Sends the jobs gathered for <paramref name="Instance"/>; it queues behind the asks that came with them.</summary>
    private sealed record SendWork(WorkerPool.Instance Instance);

    /// <summary>Is <paramref name="Instance"/> still answering? (<c>on-ask-timeout = restart</c>)</summary>
    private sealed record HangCheck(WorkerPool.Instance Instance);

    private readonly WorkersRuntime _workers;
    private readonly Runtime.ReactorMetrics _metrics; // packet.worker.ask.duration, recorded as each ask ends
    private readonly Dictionary<string, WorkerType> _catalog;
    private readonly Dictionary<(string Name, string? Key), WorkerPool> _pools = new();
    private readonly Dictionary<IActorRef, (WorkerPool Pool, WorkerPool.Instance Instance)> _byProxy = new();
    private readonly Dictionary<IActorRef, WorkerPool.Instance> _byWorker = new();
    private readonly Dictionary<long, IActorRef> _byInstanceId = new();
    private readonly AskLedger _ledger = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _refusals = new(); // registrations and outcomes a hostile peer can repeat at will
    private long _nextInstanceId;
    private long? _expiryDue; // when the Expire timer fires, if it is set

    public WorkersActor(WorkersRuntime workers)
    {
        _workers = workers;
        _metrics = workers.Reactor.Metrics;
        _catalog = new Dictionary<string, WorkerType>(workers.Catalog);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private WorkerSettings Settings => _workers.Settings;

    protected override void PreStart()
    {
        foreach (var worker in _catalog.Values.Where(_workers.StartsByItself))
            Create(worker, null, new Dictionary<string, string>());
    }

    protected override void PostStop()
    {
        foreach (var entry in _ledger.Where(e => !e.Ended)) Tell(entry, null, $"worker {entry.Pool.Label} is unavailable: the reactor stopped", Outcome.Unavailable);
        SendAnswers();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        SendAnswers();
        return handled;
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Ask ask:
                Take(ask);
                return true;
            case Asks asks:
                foreach (var each in asks.Items) Take(each);
                return true;
            case WorkerProtocol.Outcomes outcomes when _byWorker.TryGetValue(Sender, out var instance):
                instance.LastProgress = Environment.TickCount64;
                foreach (var outcome in outcomes.Items) Finish(instance, outcome);
                SendWorkTo(instance);
                return true;
            case WorkerProtocol.Outcomes outcomes:
                if (_refusals.Due(out var skipped))
                    _log.Warning("dropped {Count} outcomes from {Sender}, which is not a running worker's WorkerHost ({Skipped} more such refusals since the last warning)",
                        outcomes.Items.Length, Sender.Path, skipped);
                return true;
            case SendWork send:
                SendWorkTo(send.Instance);
                return true;
            case Expire:
                _expiryDue = null;
                ExpireDue();
                return true;
            case HangCheck check:
                CheckHang(check.Instance);
                return true;
            case AskerGone gone:
                DropAsker(gone.Asker);
                return true;
            case InstanceDraining draining when _byProxy.TryGetValue(draining.Proxy, out var entry):
                entry.Instance.Draining = true;
                return true;
            case InstanceReady ready when _byProxy.TryGetValue(ready.Proxy, out var entry):
                entry.Instance.Worker = ready.Worker;
                entry.Instance.Gone = null;
                _byWorker[ready.Worker] = entry.Instance;
                Drain(entry.Pool);
                return true;
            case InstanceDown down when _byProxy.TryGetValue(down.Proxy, out var entry):
                entry.Instance.Gone = down.Gone;
                Down(entry.Pool, entry.Instance, down.Error, down.Retry);
                return true;
            case AddInstance add:
                if (!_pools.TryGetValue((add.Name, add.Key), out var joined)) _pools[(add.Name, add.Key)] = joined = new WorkerPool(add.Name, add.Key);
                var remote = new WorkerPool.Instance(add.Proxy, Settings.MaxPayload, add.MaxInFlight, add.Spare, add.Host);
                joined.Instances.Add(remote);
                _byProxy[add.Proxy] = (joined, remote);
                Context.Watch(add.Proxy);
                return true;
            case InstanceReady or InstanceDown or InstanceDraining:
                return true; // from an instance of a deleted worker
            case StartWorker start:
                Start(start);
                return true;
            case DeleteWorker delete:
                Delete(delete);
                return true;
            case EndAll:
                var pools = _pools.Values.ToArray();
                _pools.Clear();
                Retire(pools, _ => "the reactor stopped", graceful: true, "every worker");
                return true;
            case WorkerProtocol.Register register:
                Register(register);
                return true;
            case WorkerProtocol.Forward forward:
                if (_pools.TryGetValue((forward.Worker, forward.Key), out var target) && target.Instances.FirstOrDefault(i => i.Ready) is { } recipient)
                    recipient.Proxy.Tell(new WorkerProtocol.Deliver(forward.Payload));
                else
                    _log.Warning("a worker's SendRequest to {Worker} was dropped: no instance of it is running", forward.Worker);
                return true;
            case ListHosts list when _pools.TryGetValue((list.Worker, list.Key), out var ofWorker):
                Sender.Tell(Hosts(ofWorker));
                return true;
            case ListHosts list:
                Sender.Tell(new Status.Failure(new WorkerException(new WorkerReply(list.Worker, list.Key, null, NotRunning(list.Worker, list.Key)))));
                return true;
            case ListWorkers:
                Task.WhenAll(_byProxy.Keys.Select(Describe)).PipeTo(Sender, success: infos => (IReadOnlyList<WorkerInfo>)infos.OfType<WorkerInfo>().ToArray());
                return true;
            case Terminated terminated:
                Forget(terminated.ActorRef);
                return true;
            default:
                return false;
        }
    }

    // ---- asks --------------------------------------------------------------------------------

    private void Take(Ask ask)
    {
        if (!_pools.TryGetValue((ask.Worker, ask.Key), out var pool))
        {
            Refuse(ask, NotRunning(ask.Worker, ask.Key), Outcome.Unavailable);
            return;
        }
        if (ask.At is { } at)
        {
            TakeAt(pool, at, ask);
            return;
        }
        var free = pool.WaitingCount == 0 ? pool.Free() : null;
        if (pool.Gone is { } gone)
        {
            Refuse(ask, gone, Outcome.Unavailable);
            return;
        }
        if (free is null && Busy(pool, ask.Payload.Length) is { } busy)
        {
            Refuse(ask, busy, Outcome.Busy);
            return;
        }
        if (Enter(ask, pool) is not { } entry) return;
        if (free is not null)
            HandTo(free, entry);
        else
            pool.Enqueue(entry);
        ArmExpiry();
    }

    /// <summary>Puts the ask on the ledger, under its deadline; <see langword="null"/>, and refused, if its request id is already there.</summary>
    private AskLedger.Entry? Enter(Ask ask, WorkerPool pool)
    {
        var entry = new AskLedger.Entry(ask, Sender, pool, _workers.DeadlineOf(ask.Started));
        if (_ledger.TryAdd(entry)) return entry;
        Refuse(ask, $"request id {ask.RequestId} is already in use", Outcome.Error);
        return null;
    }

    /// <summary>An ask for one instance (<see cref="Ask.At"/>): handed to it at once, if it is still ready.</summary>
    private void TakeAt(WorkerPool pool, IActorRef at, Ask ask)
    {
        if (!_byProxy.TryGetValue(at, out var target) || target.Pool != pool || !target.Instance.Ready || target.Instance.Draining)
        {
            Refuse(ask, $"worker {pool.Label} is no longer ready on {Where(target.Instance)}", Outcome.Unavailable);
            return;
        }
        if (target.Instance.InFlight >= target.Instance.MaxInFlight)
        {
            Refuse(ask, $"worker {pool.Label} is busy on {Where(target.Instance)}: it holds as many asks as it may (max-in-flight)", Outcome.Busy);
            return;
        }
        if (Enter(ask, pool) is not { } entry) return;
        HandTo(target.Instance, entry);
        ArmExpiry();
    }

    private static string Where(WorkerPool.Instance? instance) => instance?.Host is { } host ? $"host {host}" : "this machine";

    /// <summary>The hosts that run <paramref name="pool"/>'s worker (<see cref="ListHosts"/>).</summary>
    private static IReadOnlyList<HostTarget> Hosts(WorkerPool pool)
    {
        var hosts = new List<HostTarget>();
        var local = pool.Instances.Where(i => i.Host is null).ToArray();
        if (local.Length > 0)
            hosts.Add(local.Where(i => i.Ready).MinBy(i => i.InFlight) is { } free
                ? new HostTarget(null, free.Proxy, null)
                : new HostTarget(null, null, $"no instance of worker {pool.Label} on this machine is ready (starting or restarting)"));
        foreach (var remote in pool.Instances.Where(i => i.Host is not null))
            hosts.Add(remote.Ready && !remote.Draining
                ? new HostTarget(remote.Host, remote.Proxy, null)
                : new HostTarget(remote.Host, null, remote.Gone ?? (remote.Draining ? $"host {remote.Host} is leaving" : $"worker {pool.Label} on host {remote.Host} is not ready")));
        return hosts;
    }

    /// <summary>An ask that ends as it arrives, with <paramref name="error"/>.</summary>
    private void Refuse(Ask ask, string error, string outcome)
    {
        _metrics.AskEnded(ask.Worker, ask.Started, outcome);
        Sender.Tell(new Answer(ask.RequestId, ask.Worker, ask.Key, ask.Context, null, error));
    }

    /// <summary>The values of the <c>packet.ask.outcome</c> tag on <c>packet.worker.ask.duration</c>.</summary>
    private static class Outcome
    {
        public const string Ok = "ok", Error = "error", Timeout = "timeout", Busy = "busy", Unavailable = "unavailable";
    }

    /// <summary>Why an ask of <paramref name="bytes"/> may not join <paramref name="pool"/>'s queue, or <see langword="null"/> if it may.</summary>
    private string? Busy(WorkerPool pool, int bytes)
    {
        if (pool.WaitingCount >= Settings.MaxWaiting)
            return $"worker {pool.Label} is busy: {pool.WaitingCount} asks are waiting for it (packet.workers.max-waiting)";
        if (pool.WaitingBytes + bytes > Settings.MaxWaitingBytes)
            return $"worker {pool.Label} is busy: the asks waiting for it hold {pool.WaitingBytes} bytes (packet.workers.max-waiting-bytes = {Settings.MaxWaitingBytes})";
        return null;
    }

    /// <summary>Sends the jobs gathered for <paramref name="instance"/>, if it may take them now (<see cref="WorkerPool.Instance.MaySend"/>).</summary>
    private static void SendWorkTo(WorkerPool.Instance instance)
    {
        if (instance.Worker is not { } worker || instance.Jobs.IsEmpty || !instance.MaySend) return;
        var jobs = instance.Jobs.Take();
        instance.Sent(jobs.Length);
        worker.Tell(new WorkerProtocol.Work(jobs));
    }

    /// <summary>
    /// Adds the ask to the instance's next batch. That goes out once the asks that came with it are in
    /// (a <see cref="SendWork"/> queued behind them), or, while the instance is still busy with two
    /// batches, when it answers one of them.
    /// </summary>
    private void HandTo(WorkerPool.Instance instance, AskLedger.Entry entry)
    {
        if (instance.InFlight++ == 0)
        {
            instance.LastProgress = Environment.TickCount64;
            if (Settings.RestartOnAskTimeout) Timers.StartSingleTimer(instance, new HangCheck(instance), Settings.AskTimeout);
        }
        entry.At = instance;
        var job = new WorkerProtocol.Job(entry.RequestId, entry.Payload!);
        if (!entry.Idempotent) entry.Payload = null; // an idempotent ask's is kept, to ask again if its host is lost
        if (instance.Jobs.IsEmpty) Self.Tell(new SendWork(instance));
        if (instance.Jobs.Add(job) is { } full)
        {
            instance.Sent(full.Length);
            instance.Worker!.Tell(new WorkerProtocol.Work(full));
        }
    }

    private void Drain(WorkerPool pool)
    {
        while (pool.WaitingCount > 0 && pool.Free() is { } instance && pool.Dequeue() is { } next) HandTo(instance, next);
    }

    /// <summary>An outcome from <paramref name="instance"/>: the ask leaves the ledger, its asker gets it (unless it timed out or left), and the instance has room for another.</summary>
    private void Finish(WorkerPool.Instance instance, WorkerProtocol.Outcome outcome)
    {
        if (!_ledger.TryGet(outcome.RequestId, out var entry) || entry.At != instance)
        {
            _log.Debug("an outcome for request {RequestId}, which {Worker} does not hold, was dropped", outcome.RequestId, entry?.Pool.Label ?? "no worker");
            return;
        }
        _ledger.Remove(entry);
        instance.InFlight--;
        instance.Answered();
        if (entry.Ended)
            _log.Debug("worker {Worker} answered request {RequestId} after it timed out", entry.Pool.Label, outcome.RequestId);
        else
            Tell(entry, outcome.Payload, outcome.Error, outcome.Error is null ? Outcome.Ok : Outcome.Error);
        Drain(entry.Pool);
    }

    /// <summary>The asker gets its answer, unless it has gone.</summary>
    private void Tell(AskLedger.Entry entry, ReadOnlyMemory<byte>? payload, string? error, string outcome)
    {
        _metrics.AskEnded(entry.Pool.Name, entry.Started, outcome);
        if (entry.AskerGone)
        {
            _log.Debug("dropped the reply of {Worker} to request {RequestId}: the connection that asked is gone (counted when it closed)", entry.Pool.Label, entry.RequestId);
            return;
        }
        var answer = new Answer(entry.RequestId, entry.Pool.Name, entry.Pool.Key, entry.Context, payload, error);
        _gathered.Add((entry.Asker, answer));
    }

    private readonly List<(IActorRef Asker, Answer Answer)> _gathered = []; // answers made while handling the current message
    private readonly Dictionary<IActorRef, List<Answer>> _byAsker = new();

    /// <summary>Sends the answers made while handling one message (the outcomes of one <see cref="WorkerProtocol.Outcomes"/>): one message per asker.</summary>
    private void SendAnswers()
    {
        if (_gathered.Count == 0) return;
        if (_gathered.Count == 1)
        {
            _gathered[0].Asker.Tell(_gathered[0].Answer);
            _gathered.Clear();
            return;
        }
        // Gathered in arrival order, so one asker's answers keep their order within its group.
        foreach (var (asker, answer) in _gathered)
        {
            if (!_byAsker.TryGetValue(asker, out var group)) _byAsker[asker] = group = [];
            group.Add(answer);
        }
        foreach (var (asker, group) in _byAsker) asker.Tell(group.Count == 1 ? group[0] : new Answers([.. group]));
        _byAsker.Clear();
        _gathered.Clear();
    }

    /// <summary>Keeps one timer, at the deadline of the ask due first.</summary>
    private void ArmExpiry()
    {
        if (_ledger.NextDeadline is not { } next || _expiryDue is { } due && due <= next) return;
        _expiryDue = next;
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
        Timers.StartSingleTimer(Expire.Instance, Expire.Instance, wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
    }

    private void ExpireDue()
    {
        foreach (var entry in _ledger.TakeDue(Stopwatch.GetTimestamp()))
        {
            var pool = entry.Pool;
            entry.Ended = true;
            if (entry.At is null)
            {
                _ledger.Remove(entry);
                pool.Left(entry);
                var why = pool.Instances.Any(i => i.Ready) ? "free" : "ready (starting or restarting)";
                Tell(entry, null, $"no instance of worker {pool.Label} was {why} within {Settings.AskTimeout} ({pool.WaitingCount} more waiting)", Outcome.Timeout);
            }
            else
            {
                Tell(entry, null, $"worker {pool.Label} did not answer within {Settings.AskTimeout}", Outcome.Timeout);
            }
        }
        ArmExpiry();
    }

    /// <summary>An instance that holds asks and has answered none for <c>ask-timeout</c> is hung: its proxy kills it.</summary>
    private void CheckHang(WorkerPool.Instance instance)
    {
        if (instance.InFlight == 0 || !instance.Ready) return;
        var quiet = Environment.TickCount64 - instance.LastProgress;
        var limit = (long)Settings.AskTimeout.TotalMilliseconds;
        if (quiet < limit)
        {
            Timers.StartSingleTimer(instance, new HangCheck(instance), TimeSpan.FromMilliseconds(limit - quiet));
            return;
        }
        _byWorker.Remove(instance.Worker!);
        instance.Worker = null; // no more asks until it has been restarted
        instance.Proxy.Tell(new ProxyActor.Hung(instance.InFlight));
    }

    /// <summary>
    /// The instance's process is gone, or its host: what it held fails, and it takes no more asks until it is
    /// ready again. With <paramref name="retry"/>, an idempotent ask it held that has not been retried yet
    /// waits for another instance instead: once, so an ask that kills every host it reaches costs one more at most.
    /// </summary>
    private void Down(WorkerPool pool, WorkerPool.Instance instance, string error, bool retry = false)
    {
        if (instance.Worker is { } worker) _byWorker.Remove(worker);
        Timers.Cancel(instance);
        instance.Reset();
        var retried = 0;
        foreach (var entry in _ledger.Where(e => e.At == instance))
        {
            if (retry && entry is { Idempotent: true, Retried: false, Ended: false, AskerGone: false })
            {
                entry.At = null;
                entry.Retried = true;
                pool.Enqueue(entry); // already taken: no max-waiting check
                retried++;
                continue;
            }
            _ledger.Remove(entry);
            if (!entry.Ended) Tell(entry, null, error, Outcome.Unavailable);
        }
        if (retried > 0) _log.Info("{Count} idempotent asks held by an instance of worker {Worker} wait for another: {Error}", retried, pool.Label, error);
        if (pool.Gone is { } gone) FailWaiting(pool, gone);
        else Drain(pool);
        ArmExpiry();
    }

    private void FailWaiting(WorkerPool pool, string error)
    {
        foreach (var entry in pool.TakeWaiting())
        {
            _ledger.Remove(entry);
            Tell(entry, null, error, Outcome.Unavailable);
        }
    }

    /// <summary>A connection stopped: its waiting asks are dropped and counted; the replies to the others will be dropped.</summary>
    private void DropAsker(IActorRef asker)
    {
        var dropped = 0;
        foreach (var entry in _ledger.Where(e => e.Asker.Equals(asker)))
        {
            entry.AskerGone = true;
            if (entry.At is not null) continue;
            _ledger.Remove(entry);
            entry.Pool.Left(entry);
            dropped++;
        }
        if (dropped == 0) return;
        _workers.CountDroppedAsks(dropped);
        _log.Debug("dropped {Count} asks of a connection that closed before they reached a worker", dropped);
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    private void Start(StartWorker start)
    {
        if (start.Class is { } named && _catalog.TryGetValue(named.Name, out var known) && known.Type != named.Type)
        {
            Sender.Tell(new Status.Failure(new InvalidOperationException(
                $"worker name \"{named.Name}\" already belongs to {known.Type.FullName}, not {named.Type.FullName}")));
            return;
        }
        if (start.Class is { } added) _catalog[added.Name] = added;
        if (!_catalog.TryGetValue(start.Name, out var type))
        {
            Sender.Tell(new Status.Failure(new ArgumentException(UnknownWorker(start.Name))));
            return;
        }
        if (_pools.ContainsKey((start.Name, start.Key)))
        {
            Sender.Tell(new Status.Failure(new InvalidOperationException(
                $"worker {start.Name}{KeyText(start.Key)} is already running; delete it first or use another key")));
            return;
        }
        var pool = Create(type, start.Key, start.Options);
        var timeout = Settings.StartTimeout * 2;
        Task.WhenAll(pool.Instances.Select(i => i.Proxy.Ask(ProxyActor.WhenReady.Instance, timeout)))
            .PipeTo(Sender, success: _ => new Status.Success(start.Name));
    }

    private WorkerPool Create(WorkerType type, string? key, IReadOnlyDictionary<string, string> options)
    {
        var pool = new WorkerPool(type.Name, key);
        _pools[(type.Name, key)] = pool;
        for (var i = 0; i < type.Instances; i++)
        {
            var id = ++_nextInstanceId;
            var proxy = Context.ActorOf(Props.Create(() => new ProxyActor(id, type, key, options, _workers)));
            Context.Watch(proxy);
            var instance = new WorkerPool.Instance(proxy, Settings.MaxPayload, _workers.MaxInFlight(type));
            pool.Instances.Add(instance);
            _byProxy[proxy] = (pool, instance);
            _byInstanceId[id] = proxy;
        }
        return pool;
    }

    private void Delete(DeleteWorker delete)
    {
        if (!_pools.Remove((delete.Name, delete.Key), out var pool))
        {
            Sender.Tell(new Status.Failure(new ArgumentException($"no worker {delete.Name}{KeyText(delete.Key)} is running")));
            return;
        }
        Retire([pool], each => $"worker {each.Label} was deleted", graceful: false, delete.Name);
    }

    /// <summary>How long a proxy may take to answer <paramref name="how"/>: a killed process shows its exit well within a start's time; one asked to end gets <see cref="ProxyActor.EndTimeout"/> first.</summary>
    internal static TimeSpan RetireLimit(WorkerSettings settings, ProxyActor.Delete how) =>
        settings.StartTimeout + (how.Gracefully ? ProxyActor.EndTimeout : TimeSpan.Zero);

    /// <summary>
    /// Fails the asks of <paramref name="pools"/>, forgets their instances, and has each proxy end its
    /// process: with <paramref name="graceful"/>, an idle one is asked to end on its own, and one that
    /// still holds asks (they outlived the reactor's drain, so it is likely hung) is killed. The sender gets
    /// <see cref="Status.Success"/> with <paramref name="done"/> once every process is gone.
    /// </summary>
    private void Retire(IReadOnlyCollection<WorkerPool> pools, Func<WorkerPool, string> error, bool graceful, string done)
    {
        var ends = new List<Task>();
        foreach (var pool in pools)
        {
            FailWaiting(pool, error(pool));
            foreach (var instance in pool.Instances.ToArray())
            {
                var how = graceful && instance.InFlight == 0 ? ProxyActor.Delete.WhenIdle : ProxyActor.Delete.Now;
                Down(pool, instance, error(pool));
                Forget(instance.Proxy);
                ends.Add(instance.Proxy.Ask<ProxyActor.Deleted>(how, RetireLimit(Settings, how)));
            }
        }
        Task.WhenAll(ends).PipeTo(Sender, success: () => new Status.Success(done));
    }

    /// <summary>Takes an instance out of the registry: it was deleted, or its proxy stopped.</summary>
    private void Forget(IActorRef proxy)
    {
        if (!_byProxy.Remove(proxy, out var entry)) return;
        var (pool, instance) = entry;
        Down(pool, instance, $"an instance of worker {pool.Label} stopped"); // what it still holds (a host agent's, as its node ends)
        pool.Instances.Remove(instance);
        foreach (var stale in _byInstanceId.Where(e => e.Value.Equals(proxy)).Select(e => e.Key).ToArray()) _byInstanceId.Remove(stale);
        if (pool.Instances.Count == 0 && _pools.TryGetValue((pool.Name, pool.Key), out var current) && current == pool)
        {
            _pools.Remove((pool.Name, pool.Key)); // a host agent's last instance went
            FailWaiting(pool, NotRunning(pool.Name, pool.Key));
        }
    }

    /// <summary>Hands a registration to the instance it names, whose proxy checks its launch secret; one naming no instance is refused and logged.</summary>
    private void Register(WorkerProtocol.Register register)
    {
        if (_byInstanceId.TryGetValue(register.Instance, out var proxy))
        {
            proxy.Forward(register);
            return;
        }
        if (_refusals.Due(out var skipped))
            _log.Warning("refused a registration as worker {Worker} from {Sender}: instance {Instance} does not exist ({Skipped} more such refusals since the last warning)",
                register.Name, register.Worker.Path, register.Instance, skipped);
        // No answer: it would go where the message says (see ProxyActor.Refuse).
    }

    /// <summary>One instance's info, or <see langword="null"/> if it stopped meanwhile.</summary>
    private static async Task<WorkerInfo?> Describe(IActorRef proxy)
    {
        try
        {
            return await proxy.Ask<WorkerInfo>(ProxyActor.Describe.Instance, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private static string KeyText(string? key) => key is null ? "" : $" with key \"{key}\"";

    private string UnknownWorker(string name) =>
        $"no worker is named \"{name}\" (known: {(_catalog.Count == 0 ? "none" : string.Join(", ", _catalog.Keys.Order()))})";

    private string NotRunning(string name, string? key) =>
        _catalog.ContainsKey(name) ? $"worker {name}{KeyText(key)} is not running" : UnknownWorker(name);
}
