using Akka.Actor;
using Packet.Actors.Workers;

namespace Packet.Actors.Runtime;

/// <summary>
/// One connection's side of its worker asks: how many it has outstanding (the backpressure counts
/// them), and, for asks made in order, the answers held back until those asked before them are in.
/// The asks themselves, with their deadlines, are tracked by the registry (<see cref="AskLedger"/>):
/// what the connection needs again when an answer comes travels with the ask, as its <see cref="Ticket"/>.
/// The asks made while the connection's actor handles one message go to the registry together when it
/// is done (<see cref="SendTo"/>): the lines of one read cost the registry one message.
/// </summary>
internal sealed class WorkerAsks
{
    /// <summary>
    /// What the connection attaches to an ask: the callback that takes its answer (none: <c>WorkerReceive</c>),
    /// and, for an ask made in order, its place in that order.
    /// </summary>
    internal sealed record Ticket(Action<WorkerReply>? Callback, long? InOrder) : WorkersActor.IAskContext;

    private long _nextInOrder;
    private long _dueInOrder;
    private SortedDictionary<long, WorkersActor.Answer>? _heldBack; // made by the first answer that comes early
    private readonly List<WorkersActor.Ask> _unsent = [];

    /// <summary>Asks made and not yet answered to the handler, held-back answers included.</summary>
    public int Outstanding { get; private set; }

    /// <summary>A new ask; with <paramref name="inOrder"/>, its answer is handed over only after those of the earlier asks made in order.</summary>
    public Ticket Next(Action<WorkerReply>? callback, bool inOrder)
    {
        Outstanding++;
        return new Ticket(callback, inOrder ? _nextInOrder++ : null);
    }

    /// <summary>Keeps <paramref name="ask"/> for the next <see cref="SendTo"/>.</summary>
    public void Add(WorkersActor.Ask ask) => _unsent.Add(ask);

    /// <summary>Sends the asks made since the last call to <paramref name="registry"/>, in one message.</summary>
    public void SendTo(IActorRef registry, IActorRef asker)
    {
        if (_unsent.Count == 0) return;
        registry.Tell(_unsent.Count == 1 ? _unsent[0] : new WorkersActor.Asks([.. _unsent]), asker);
        _unsent.Clear();
    }

    /// <summary>
    /// An answer came. True: hand it over now (it is no longer outstanding), then the answers
    /// <see cref="TakeReleased"/> gives. False: it was asked in order after an ask still out, and is held back.
    /// </summary>
    public bool Arrived(WorkersActor.Answer answer)
    {
        if (answer.Context is Ticket { InOrder: { } place })
        {
            if (place != _dueInOrder)
            {
                (_heldBack ??= new())[place] = answer;
                return false;
            }
            _dueInOrder++;
        }
        Outstanding--;
        return true;
    }

    /// <summary>The next held-back answer whose turn has come, or <see langword="null"/>; it is no longer outstanding.</summary>
    public WorkersActor.Answer? TakeReleased()
    {
        if (_heldBack is null || !_heldBack.Remove(_dueInOrder, out var next)) return null;
        _dueInOrder++;
        Outstanding--;
        return next;
    }

    /// <summary>The connection has ended: every outstanding ask is given up; returns how many there were.</summary>
    public int GiveUp()
    {
        var given = Outstanding;
        Outstanding = 0;
        _heldBack = null;
        return given;
    }
}
