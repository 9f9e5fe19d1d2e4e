using Akka.Actor;
using Packet.Actors.Runtime;
using Packet.Actors.Workers;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>The registry's one record of asks, and a connection's side of its asks, as plain code.</summary>
public sealed class AskLedgerTests
{
    private static readonly WorkerPool Pool = new("echo", null);

    private static AskLedger.Entry Entry(long id, long deadline) =>
        new(new WorkersActor.Ask(id, "echo_worker", null, [1, 2, 3], 0, Lasting: true), ActorRefs.Nobody, Pool, deadline);

    [Fact]
    public void Asks_fall_due_in_deadline_order_and_an_ended_one_stays_on_record_until_it_is_removed()
    {
        var ledger = new AskLedger();
        Assert.True(ledger.TryAdd(Entry(1, 100)));
        Assert.True(ledger.TryAdd(Entry(2, 200)));
        Assert.True(ledger.TryAdd(Entry(3, 300)));
        Assert.False(ledger.TryAdd(Entry(2, 400))); // an id in use is refused; the first keeps it

        Assert.Equal(100, ledger.NextDeadline);
        Assert.Empty(ledger.TakeDue(99));
        var due = ledger.TakeDue(200);
        Assert.Equal([1L, 2L], due.Select(e => e.RequestId));
        Assert.Equal(300, ledger.NextDeadline);

        ledger.End(due[0]); // timed out while an instance holds it
        ledger.Remove(due[1]);
        Assert.True(ledger.TryGet(1, out var ended));
        Assert.True(ended.Ended);
        Assert.False(ledger.TryGet(2, out _));
        Assert.Equal(2, ledger.Count);

        ledger.TryGet(3, out var last);
        ledger.Remove(last); // answered before its deadline: no timer is left for it
        Assert.Null(ledger.NextDeadline);
    }

    [Fact]
    public void A_pool_queue_skips_ended_asks_and_sheds_them_once_they_outnumber_the_live()
    {
        var pool = new WorkerPool("echo", null);
        var entries = Enumerable.Range(1, 200).Select(i => Entry(i, i)).ToArray();
        foreach (var entry in entries) pool.Enqueue(entry);
        Assert.Equal(200, pool.WaitingCount);
        Assert.Equal(600, pool.WaitingBytes);

        foreach (var entry in entries.Take(150))
        {
            entry.Ended = true;
            pool.Left(entry);
        }

        Assert.Equal(50, pool.WaitingCount);
        Assert.Equal(150, pool.WaitingBytes);
        Assert.Equal(151, pool.Dequeue()!.RequestId);
        Assert.Equal(49, pool.TakeWaiting().Count);
        Assert.Null(pool.Dequeue());
    }

    private static WorkersActor.Answer Answer(WorkerAsks.Ticket ticket, string text) =>
        new(0, "w", null, ticket, null, text);

    /// <summary>What the connection hands over when <paramref name="answer"/> comes, in order.</summary>
    private static List<WorkersActor.Answer> Arrive(WorkerAsks asks, WorkersActor.Answer answer)
    {
        var handed = new List<WorkersActor.Answer>();
        if (asks.Arrived(answer)) handed.Add(answer);
        while (asks.TakeReleased() is { } next) handed.Add(next);
        return handed;
    }

    [Fact]
    public void Answers_to_asks_made_in_order_are_held_back_until_the_earlier_ones_are_in_and_count_as_outstanding_meanwhile()
    {
        var asks = new WorkerAsks();
        var first = asks.Next(null, inOrder: true);
        var free = asks.Next(null, inOrder: false);
        var second = asks.Next(null, inOrder: true);
        var third = asks.Next(null, inOrder: true);
        Assert.Equal(4, asks.Outstanding);

        Assert.Empty(Arrive(asks, Answer(third, "3")));
        Assert.Equal(["free"], Arrive(asks, Answer(free, "free")).Select(a => a.Error));
        Assert.Empty(Arrive(asks, Answer(second, "2")));
        Assert.Equal(3, asks.Outstanding);

        Assert.Equal(["1", "2", "3"], Arrive(asks, Answer(first, "1")).Select(a => a.Error));
        Assert.Equal(0, asks.Outstanding);
    }
}
