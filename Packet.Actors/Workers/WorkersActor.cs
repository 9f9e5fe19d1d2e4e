using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's worker registry, at <c>/user/workers</c>. It starts and deletes workers (one
/// <see cref="ProxyActor"/> and process per instance), hands each WorkerHost registration to the
/// proxy of the instance it names, and hands each ask to the instance of its worker with the fewest asks in hand.
/// When every instance is full, asks wait here, at most <c>ask-timeout</c>.
/// </summary>
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

    /// <summary>
    /// Ask a worker; the asker (<see cref="ActorBase.Sender"/>) gets a <see cref="ProxyActor.Answer"/>.
    /// <paramref name="Lasting"/> marks an asker that lives on (a connection): its proxy watches it, to
    /// drop and count replies for it once it has gone. A temporary asker (an awaited ask) is not watched.
    /// </summary>
    internal sealed record Ask(long RequestId, string Worker, string? Key, byte[] Payload, bool Lasting);

    /// <summary>Answered with every worker instance's <see cref="WorkerInfo"/>.</summary>
    internal sealed class ListWorkers
    {
        public static readonly ListWorkers Instance = new();
    }

    /// <summary>
    /// Connection → registry, as it stops with asks outstanding: its asks still waiting here are dropped
    /// (and counted) before they reach a worker.
    /// </summary>
    internal sealed record AskerGone(IActorRef Asker);

    /// <summary>Proxy → registry: the instance registered, finished its WorkerInit and takes asks.</summary>
    internal sealed record InstanceReady(IActorRef Proxy);

    /// <summary>Proxy → registry: the instance takes no asks until it is ready again.</summary>
    internal sealed record InstanceDown(IActorRef Proxy);

    /// <summary>Proxy → registry: the instance died and will not be restarted (<c>restart.policy = never</c>).</summary>
    internal sealed record InstanceStopped(IActorRef Proxy);

    /// <summary>Proxy → registry: one ask this registry handed it is finished (answered, failed or timed out).</summary>
    internal sealed record AskDone(IActorRef Proxy);

    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    /// <summary>One process of a worker, as the registry sees it.</summary>
    private sealed class Instance(IActorRef proxy)
    {
        public IActorRef Proxy { get; } = proxy;

        public int InFlight { get; set; }

        public bool Ready { get; set; }

        public bool Stopped { get; set; }
    }

    private sealed record Waiting(Ask Ask, IActorRef Asker, long Arrived);

    /// <summary>The instances that serve one worker name and key, and the asks waiting for them.</summary>
    private sealed class Pool(WorkerType type, string? key, int maxInFlight)
    {
        public WorkerType Type { get; } = type;

        public string? Key { get; } = key;

        public List<Instance> Instances { get; } = [];

        public Queue<Waiting> Waiting { get; private set; } = new();

        /// <summary>The payload bytes of <see cref="Waiting"/>.</summary>
        public long WaitingBytes { get; private set; }

        public void Enqueue(Waiting waiting)
        {
            Waiting.Enqueue(waiting);
            WaitingBytes += waiting.Ask.Payload.Length;
        }

        public bool TryDequeue(out Waiting waiting)
        {
            if (!Waiting.TryDequeue(out waiting!)) return false;
            WaitingBytes -= waiting.Ask.Payload.Length;
            return true;
        }

        /// <summary>Takes out every waiting ask of <paramref name="asker"/>; returns how many there were.</summary>
        public int RemoveAsker(IActorRef asker)
        {
            var kept = new Queue<Waiting>(Waiting.Where(w => !w.Asker.Equals(asker)));
            var removed = Waiting.Count - kept.Count;
            if (removed > 0)
            {
                Waiting = kept;
                WaitingBytes = kept.Sum(w => (long)w.Ask.Payload.Length);
            }
            return removed;
        }

        public string Label => Key is null ? Type.Name : $"{Type.Name}[{Key}]";

        public bool AllStopped => Instances.Count > 0 && Instances.All(i => i.Stopped);

        public Instance? Free() => Instances.Where(i => i.Ready && i.InFlight < maxInFlight).MinBy(i => i.InFlight);
    }

    private readonly WorkersRuntime _workers;
    private readonly Dictionary<string, WorkerType> _catalog;
    private readonly Dictionary<(string Name, string? Key), Pool> _pools = new();
    private readonly Dictionary<IActorRef, (Pool Pool, Instance Instance)> _byProxy = new();
    private readonly Dictionary<long, IActorRef> _byInstanceId = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _refusals = new(); // registrations a hostile peer can repeat at will
    private long _nextInstanceId;

    public WorkersActor(WorkersRuntime workers)
    {
        _workers = workers;
        _catalog = new Dictionary<string, WorkerType>(workers.Catalog);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromMilliseconds(250));
        foreach (var worker in _catalog.Values.Where(w => !w.NoAutoLoad))
            Create(worker, null, new Dictionary<string, string>());
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Ask ask:
                if (_pools.TryGetValue((ask.Worker, ask.Key), out var pool))
                    Route(pool, new Waiting(ask, Sender, Environment.TickCount64));
                else
                    Sender.Tell(new ProxyActor.Answer(ask.RequestId, ask.Worker, ask.Key, null, NotRunning(ask.Worker, ask.Key)));
                return true;
            case AskDone done when _byProxy.TryGetValue(done.Proxy, out var entry):
                entry.Instance.InFlight--;
                Drain(entry.Pool);
                return true;
            case InstanceReady ready when _byProxy.TryGetValue(ready.Proxy, out var entry):
                entry.Instance.Ready = true;
                Drain(entry.Pool);
                return true;
            case InstanceDown down when _byProxy.TryGetValue(down.Proxy, out var entry):
                entry.Instance.Ready = false;
                return true;
            case InstanceStopped stopped when _byProxy.TryGetValue(stopped.Proxy, out var entry):
                entry.Instance.Ready = false;
                entry.Instance.Stopped = true;
                if (entry.Pool.AllStopped) FailWaiting(entry.Pool, Stopped(entry.Pool));
                return true;
            case AskerGone gone:
                var dropped = _pools.Values.Sum(each => each.RemoveAsker(gone.Asker));
                if (dropped > 0)
                {
                    _workers.CountDroppedAsks(dropped);
                    _log.Info("dropped {0} asks of a connection that closed before they reached a worker", dropped);
                }
                return true;
            case AskDone or InstanceReady or InstanceDown or InstanceStopped:
                return true; // from an instance of a deleted worker
            case Sweep:
                foreach (var each in _pools.Values) ExpireWaiting(each);
                return true;
            case StartWorker start:
                Start(start);
                return true;
            case DeleteWorker delete:
                Delete(delete);
                return true;
            case EndAll:
                var pools = _pools.Values.ToArray();
                _pools.Clear();
                Retire(pools, _ => "the reactor stopped", ProxyActor.Delete.WhenIdle, "every worker");
                return true;
            case WorkerProtocol.Register register:
                Register(register);
                return true;
            case WorkerProtocol.Forward forward:
                if (_pools.TryGetValue((forward.Worker, forward.Key), out var target) && target.Instances.FirstOrDefault(i => i.Ready) is { } recipient)
                    recipient.Proxy.Tell(new WorkerProtocol.Deliver(forward.Payload));
                else
                    _log.Warning("a worker's SendRequest to {0} was dropped: no instance of it is running", forward.Worker);
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

    private void Route(Pool pool, Waiting waiting)
    {
        if (pool.AllStopped)
            waiting.Asker.Tell(new ProxyActor.Answer(waiting.Ask.RequestId, pool.Type.Name, pool.Key, null, Stopped(pool)));
        else if (pool.Waiting.Count == 0 && pool.Free() is { } instance)
            HandTo(instance, waiting);
        else if (Busy(pool, waiting.Ask.Payload.Length) is { } busy)
            waiting.Asker.Tell(new ProxyActor.Answer(waiting.Ask.RequestId, pool.Type.Name, pool.Key, null, busy));
        else
            pool.Enqueue(waiting);
    }

    /// <summary>Why an ask of <paramref name="bytes"/> may not join <paramref name="pool"/>'s queue, or <see langword="null"/> if it may.</summary>
    private string? Busy(Pool pool, int bytes)
    {
        var settings = _workers.Settings;
        if (pool.Waiting.Count >= settings.MaxWaiting)
            return $"worker {pool.Label} is busy: {pool.Waiting.Count} asks are waiting for it (packet.workers.max-waiting)";
        if (pool.WaitingBytes + bytes > settings.MaxWaitingBytes)
            return $"worker {pool.Label} is busy: the asks waiting for it hold {pool.WaitingBytes} bytes (packet.workers.max-waiting-bytes = {settings.MaxWaitingBytes})";
        return null;
    }

    private void Drain(Pool pool)
    {
        while (pool.Waiting.Count > 0 && pool.Free() is { } instance && pool.TryDequeue(out var next)) HandTo(instance, next);
    }

    private static void HandTo(Instance instance, Waiting waiting)
    {
        instance.InFlight++;
        instance.Proxy.Tell(new ProxyActor.Ask(waiting.Ask.RequestId, waiting.Ask.Payload, waiting.Ask.Lasting), waiting.Asker);
    }

    private void ExpireWaiting(Pool pool)
    {
        var deadline = Environment.TickCount64 - (long)_workers.Settings.AskTimeout.TotalMilliseconds;
        var why = pool.Instances.Any(i => i.Ready) ? "free" : "ready (starting or restarting)";
        while (pool.Waiting.TryPeek(out var oldest) && oldest.Arrived <= deadline)
        {
            pool.TryDequeue(out _);
            oldest.Asker.Tell(new ProxyActor.Answer(oldest.Ask.RequestId, pool.Type.Name, pool.Key, null,
                $"no instance of worker {pool.Label} was {why} within {_workers.Settings.AskTimeout} ({pool.Waiting.Count} more waiting)"));
        }
    }

    private void FailWaiting(Pool pool, string error)
    {
        while (pool.TryDequeue(out var waiting))
            waiting.Asker.Tell(new ProxyActor.Answer(waiting.Ask.RequestId, pool.Type.Name, pool.Key, null, error));
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
        var timeout = _workers.Settings.StartTimeout * 2;
        Task.WhenAll(pool.Instances.Select(i => i.Proxy.Ask(ProxyActor.WhenReady.Instance, timeout)))
            .PipeTo(Sender, success: _ => new Status.Success(start.Name));
    }

    private Pool Create(WorkerType type, string? key, IReadOnlyDictionary<string, string> options)
    {
        var pool = new Pool(type, key, _workers.MaxInFlight(type));
        _pools[(type.Name, key)] = pool;
        for (var i = 0; i < type.Instances; i++)
        {
            var id = ++_nextInstanceId;
            var proxy = Context.ActorOf(Props.Create(() => new ProxyActor(id, type, key, options, _workers)));
            Context.Watch(proxy);
            var instance = new Instance(proxy);
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
        Retire([pool], each => $"worker {each.Label} was deleted", ProxyActor.Delete.Now, delete.Name);
    }

    /// <summary>How long a proxy may take to answer <paramref name="how"/>: a killed process shows its exit well within a start's time; one asked to end gets <see cref="ProxyActor.EndTimeout"/> first.</summary>
    internal static TimeSpan RetireLimit(WorkerSettings settings, ProxyActor.Delete how) =>
        settings.StartTimeout + (how.Gracefully ? ProxyActor.EndTimeout : TimeSpan.Zero);

    /// <summary>
    /// Fails the asks waiting for <paramref name="pools"/>, forgets their instances, and has each proxy
    /// end its process as <paramref name="how"/> says; the sender gets <see cref="Status.Success"/> with
    /// <paramref name="done"/> once every process is gone.
    /// </summary>
    private void Retire(IReadOnlyCollection<Pool> pools, Func<Pool, string> error, ProxyActor.Delete how, string done)
    {
        foreach (var pool in pools) FailWaiting(pool, error(pool));
        var proxies = pools.SelectMany(pool => pool.Instances.Select(i => i.Proxy)).ToArray();
        foreach (var proxy in proxies) Forget(proxy);
        Task.WhenAll(proxies.Select(proxy => proxy.Ask<ProxyActor.Deleted>(how, RetireLimit(_workers.Settings, how))))
            .PipeTo(Sender, success: _ => new Status.Success(done));
    }

    /// <summary>Takes an instance out of the registry: it was deleted, or its proxy stopped.</summary>
    private void Forget(IActorRef proxy)
    {
        if (!_byProxy.Remove(proxy, out var entry)) return;
        entry.Pool.Instances.Remove(entry.Instance);
        foreach (var stale in _byInstanceId.Where(e => e.Value.Equals(proxy)).Select(e => e.Key).ToArray()) _byInstanceId.Remove(stale);
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
            _log.Warning("refused a registration as worker {0} from {1}: instance {2} does not exist ({3} more such refusals since the last warning)",
                register.Name, register.Worker.Path, register.Instance, skipped);
        Sender.Tell(new WorkerProtocol.Refused($"this master did not start you (no instance {register.Instance})"));
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

    private static string Stopped(Pool pool) =>
        $"worker {pool.Label} is stopped: its process died and packet.workers.restart.policy = never; start it again with StartWorker after DeleteWorker";

    private static string KeyText(string? key) => key is null ? "" : $" with key \"{key}\"";

    private string UnknownWorker(string name) =>
        $"no worker is named \"{name}\" (known: {(_catalog.Count == 0 ? "none" : string.Join(", ", _catalog.Keys.Order()))})";

    private string NotRunning(string name, string? key) =>
        _catalog.ContainsKey(name) ? $"worker {name}{KeyText(key)} is not running" : UnknownWorker(name);
}
