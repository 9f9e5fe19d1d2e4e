using Akka.Actor;

namespace Packet.Actors.Workers;

/// <summary>
/// The one record of the asks a master's workers owe: each ask from the moment the registry takes it
/// until its one outcome, with the deadline it was given at <c>AskWorker</c>. Owned by
/// <see cref="WorkersActor"/>; plain code, so its bookkeeping is tested on its own.
/// </summary>
/// <remarks>
/// Asks are kept in arrival order, which is deadline order up to the few microseconds an ask spends in
/// the registry's mailbox (every ask gets the same <c>ask-timeout</c>): the ask due first is always at
/// the front, so one timer at its deadline is all expiry needs, and nothing is swept. An ask that times
/// out while its worker still holds it stays on record, flagged <see cref="Entry.Ended"/>, until the
/// worker answers or dies: the instance is still busy with it.
/// </remarks>
internal sealed class AskLedger
{
    /// <summary>One ask on record.</summary>
    internal sealed class Entry(WorkersActor.Ask ask, IActorRef asker, WorkerPool pool, long deadline)
    {
        public long RequestId { get; } = ask.RequestId;

        public IActorRef Asker { get; } = asker;

        public WorkerPool Pool { get; } = pool;

        /// <summary>When the ask fails if it has no outcome yet (<see cref="System.Diagnostics.Stopwatch"/> time).</summary>
        public long Deadline { get; } = deadline;

        /// <summary>When the ask was made (<see cref="System.Diagnostics.Stopwatch"/> time), for its duration.</summary>
        public long Started { get; } = ask.Started;

        public bool Lasting { get; } = ask.Lasting;

        public WorkersActor.IAskContext? Context { get; } = ask.Context;

        /// <summary>Whether it may run twice: it is asked again if the host that holds it is lost.</summary>
        public bool Idempotent { get; } = ask.Idempotent;

        /// <summary>It was asked again once already; it is not asked a third time.</summary>
        public bool Retried { get; set; }

        /// <summary>The request's bytes, until they are handed to a worker (until the outcome, if <see cref="Idempotent"/>).</summary>
        public byte[]? Payload { get; set; } = ask.Payload;

        /// <summary>The instance that holds the ask, or <see langword="null"/> while it waits for one.</summary>
        public WorkerPool.Instance? At { get; set; }

        /// <summary>The asker has its outcome (a timeout) though the instance still holds the ask.</summary>
        public bool Ended { get; set; }

        /// <summary>The asker has gone: its outcome is dropped, not sent.</summary>
        public bool AskerGone { get; set; }

        internal LinkedListNode<Entry>? Node { get; set; }
    }

    private readonly Dictionary<long, Entry> _byId = new();
    private readonly LinkedList<Entry> _byArrival = new(); // the asks not yet ended, due first at the front

    /// <summary>Asks on record, ended or not.</summary>
    public int Count => _byId.Count;

    /// <summary>The deadline of the ask due first, or <see langword="null"/> when none is waiting for its outcome.</summary>
    public long? NextDeadline => _byArrival.First?.Value.Deadline;

    /// <summary>Records an ask; false if its request id is already on record (the asker then gets an error, and the earlier ask keeps its id).</summary>
    public bool TryAdd(Entry entry)
    {
        if (!_byId.TryAdd(entry.RequestId, entry)) return false;
        entry.Node = _byArrival.AddLast(entry);
        return true;
    }

    public bool TryGet(long requestId, out Entry entry) => _byId.TryGetValue(requestId, out entry!);

    /// <summary>The ask has its outcome and no instance holds it any longer: it leaves the record.</summary>
    public void Remove(Entry entry)
    {
        _byId.Remove(entry.RequestId);
        Unlist(entry);
    }

    /// <summary>The asker has its outcome, but an instance still holds the ask: it stays on record, ended.</summary>
    public void End(Entry entry)
    {
        entry.Ended = true;
        Unlist(entry);
    }

    /// <summary>Takes out the asks whose deadline is at or before <paramref name="now"/>, due first first.</summary>
    public List<Entry> TakeDue(long now)
    {
        var due = new List<Entry>();
        while (_byArrival.First is { } first && first.Value.Deadline <= now)
        {
            due.Add(first.Value);
            Unlist(first.Value);
        }
        return due;
    }

    /// <summary>Every ask on record that <paramref name="match"/> picks, ended or not.</summary>
    public List<Entry> Where(Func<Entry, bool> match) => _byId.Values.Where(match).ToList();

    private void Unlist(Entry entry)
    {
        if (entry.Node is not { } node) return;
        _byArrival.Remove(node);
        entry.Node = null;
    }
}
