using Akka.Actor;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The instances that serve one worker name and key, as the registry sees them, and the asks waiting
/// for a free one. Plain state of <see cref="WorkersActor"/>.
/// </summary>
internal sealed class WorkerPool(string name, string? key)
{
    /// <summary>One process of the worker, or one host agent's offer of it (<see cref="Cluster.RemoteInstanceActor"/>).</summary>
    internal sealed class Instance(IActorRef proxy, int maxPayload, int maxInFlight, bool spare = false, string? host = null)
    {
        /// <summary>A host agent's instance: the agent's cluster address; <see langword="null"/> for a process on this machine.</summary>
        public string? Host { get; } = host;

        /// <summary>A host agent's instance under <c>packet.cluster.prefer-local</c>: used only when no other instance is free.</summary>
        public bool Spare { get; } = spare;

        /// <summary>The instance's <see cref="ProxyActor"/>, which runs its process, or the remote instance's actor.</summary>
        public IActorRef Proxy { get; } = proxy;

        /// <summary>The most asks it holds at once.</summary>
        public int MaxInFlight { get; } = maxInFlight;

        /// <summary>The worker actor in the WorkerHost, once the instance is ready; jobs go to it, outcomes come from it.</summary>
        public IActorRef? Worker { get; set; }

        /// <summary>Asks the instance holds: handed to it and not answered, including those that timed out meanwhile.</summary>
        public int InFlight { get; set; }

        /// <summary>When the instance last answered, or was handed work while idle (<see cref="Environment.TickCount64"/>).</summary>
        public long LastProgress { get; set; }

        /// <summary>Jobs gathered since the last <see cref="WorkerProtocol.Work"/> went out.</summary>
        public Batch<WorkerProtocol.Job> Jobs { get; } = new(maxPayload, job => job.Payload.Length);

        private readonly Queue<long> _workEnds = new(); // for each Work not yet fully answered: the count of jobs sent up to its last
        private long _jobsSent;
        private long _jobsAnswered;

        /// <summary>
        /// Whether the gathered jobs may go out now: fewer than two <see cref="WorkerProtocol.Work"/> messages
        /// are unanswered. A worker runs its jobs one after another, so a third would only wait in its
        /// mailbox; kept here, the asks that come meanwhile join it, and cross the link in one message.
        /// </summary>
        public bool MaySend => _workEnds.Count < 2;

        /// <summary>A <see cref="WorkerProtocol.Work"/> of <paramref name="jobs"/> jobs went out.</summary>
        public void Sent(int jobs) => _workEnds.Enqueue(_jobsSent += jobs);

        /// <summary>One of its jobs was answered; a Work whose every job is answered no longer counts.</summary>
        public void Answered()
        {
            _jobsAnswered++;
            while (_workEnds.TryPeek(out var end) && end <= _jobsAnswered) _workEnds.Dequeue();
        }

        /// <summary>The process is gone: nothing it was sent is outstanding.</summary>
        public void Reset()
        {
            Worker = null;
            InFlight = 0;
            Jobs.Take();
            _workEnds.Clear();
            _jobsSent = _jobsAnswered = 0;
        }

        /// <summary>Takes asks: registered, its WorkerInit done, and not being killed.</summary>
        public bool Ready => Worker is not null;

        /// <summary>
        /// Why no ask waits for this instance, or <see langword="null"/> while it runs or restarts: it died for
        /// good (<c>restart.policy = never</c>), or its host agent is unreachable.
        /// </summary>
        public string? Gone { get; set; }

        /// <summary>A host agent's instance whose agent is leaving: it finishes what it holds and takes no new asks.</summary>
        public bool Draining { get; set; }
    }

    private readonly Queue<AskLedger.Entry> _waiting = new();

    /// <summary>The worker's name.</summary>
    public string Name { get; } = name;

    public string? Key { get; } = key;

    public List<Instance> Instances { get; } = [];

    public string Label => Key is null ? Name : $"{Name}[{Key}]";

    /// <summary>Why no ask can wait for this worker, when none of its instances can take one again by itself; else <see langword="null"/>.</summary>
    public string? Gone
    {
        get
        {
            foreach (var instance in Instances)
                if (instance.Gone is null) return null; // checked for every ask: no allocation until all are gone
            return Instances.Count == 0 ? null
                : Instances.Select(i => i.Gone!).Distinct().ToArray() is [var one] ? one
                : $"no instance of worker {Label} can take asks: {string.Join("; ", Instances.Select(i => i.Gone).Distinct())}";
        }
    }

    /// <summary>Asks waiting for an instance, not counting those that have ended meanwhile.</summary>
    public int WaitingCount { get; private set; }

    /// <summary>The payload bytes of <see cref="WaitingCount"/>.</summary>
    public long WaitingBytes { get; private set; }

    /// <summary>A ready instance below its most asks in flight, the least busy first; a spare one only when no other is free.</summary>
    public Instance? Free()
    {
        Instance? best = null;
        foreach (var instance in Instances)
            if (instance.Ready && !instance.Draining && instance.InFlight < instance.MaxInFlight
                && (best is null || (instance.Spare == best.Spare ? instance.InFlight < best.InFlight : best.Spare)))
                best = instance;
        return best;
    }

    public void Enqueue(AskLedger.Entry entry)
    {
        _waiting.Enqueue(entry);
        WaitingCount++;
        WaitingBytes += entry.Payload!.Length;
    }

    /// <summary>The next waiting ask that has not ended, or <see langword="null"/>.</summary>
    public AskLedger.Entry? Dequeue()
    {
        while (_waiting.TryDequeue(out var entry))
            if (!entry.Ended && !entry.AskerGone)
            {
                Left(entry);
                return entry;
            }
        return null;
    }

    /// <summary>
    /// A waiting ask ended (timed out, or its asker left): it no longer counts, and is skipped when its
    /// turn comes. Once the skipped outnumber the rest, the queue is rebuilt without them, so a pool whose
    /// instances all hang holds no more than its live asks and as many dead.
    /// </summary>
    public void Left(AskLedger.Entry entry)
    {
        WaitingCount--;
        WaitingBytes -= entry.Payload!.Length;
        if (_waiting.Count <= 2 * WaitingCount + 64) return;
        var live = _waiting.Where(e => !e.Ended && !e.AskerGone).ToArray();
        _waiting.Clear();
        foreach (var each in live) _waiting.Enqueue(each);
    }

    /// <summary>Empties the queue, returning the asks that were still waiting.</summary>
    public List<AskLedger.Entry> TakeWaiting()
    {
        var live = _waiting.Where(e => !e.Ended && !e.AskerGone).ToList();
        _waiting.Clear();
        WaitingCount = 0;
        WaitingBytes = 0;
        return live;
    }
}
