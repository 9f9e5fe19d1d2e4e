using Akka.Actor;
using Packet.Actors.Runtime;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

[Collection(nameof(Alone))]
public sealed class ConnectionMailboxTests
{
    [Fact]
    public async Task Four_senders_and_one_consumer_see_every_message_once_in_each_senders_order()
    {
        const int perSender = 100_000;
        var queue = new ConnectionMailbox.Queue();
        var senders = Enumerable.Range(0, 4).Select(sender => Task.Run(() =>
        {
            for (var i = 0; i < perSender; i++) queue.Enqueue(ActorRefs.Nobody, new Envelope((sender, i), ActorRefs.NoSender));
        })).ToArray();

        var next = new int[senders.Length];
        var taken = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (taken < senders.Length * perSender)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {taken} messages came out");
            if (!queue.TryDequeue(out var envelope)) continue;
            var (sender, i) = ((int, int))envelope.Message;
            Assert.Equal(next[sender]++, i);
            taken++;
        }
        await Task.WhenAll(senders);

        Assert.False(queue.HasMessages);
        Assert.Equal(0, queue.Count);
    }

    /// <summary>
    /// Akka wakes an idle actor by a handshake: a sender enqueues and then reads the mailbox status, and
    /// the consumer writes the status (interlocked) and then checks <c>HasMessages</c>. Run as a
    /// store-buffer litmus test: if the sender read the old status, the consumer must see the message.
    /// With the link as a plain volatile write this lost a wake-up a few times per million rounds on x86.
    /// </summary>
    [Fact]
    public void A_sender_that_sees_the_consumer_still_busy_after_enqueueing_is_always_seen_by_its_idle_check()
    {
        const int busy = 1, idle = 0, rounds = 1_000_000;
        var envelope = new Envelope("wake", ActorRefs.NoSender);
        var deadline = Environment.TickCount64 + 10_000; // fewer rounds on a loaded machine, never longer
        var queue = new ConnectionMailbox.Queue();
        int status = busy, round = 0, answered = 0, lost = 0, ran = 0;
        var consumerSawMessage = false;

        var consumer = new Thread(() =>
        {
            for (var i = 1; ; i++)
            {
                if (!Await(ref round, i, deadline)) return;
                Interlocked.Exchange(ref status, idle);       // Mailbox.SetAsIdle
                consumerSawMessage = queue.HasMessages;        // then Mailbox.RegisterForExecution's check
                Interlocked.Exchange(ref answered, i);
            }
        }) { IsBackground = true };
        consumer.Start();

        for (var i = 1; i <= rounds && Environment.TickCount64 < deadline; i++)
        {
            queue = new ConnectionMailbox.Queue();
            Volatile.Write(ref status, busy);
            Volatile.Write(ref round, i);
            for (var jitter = i % 64; jitter > 0; jitter--) Thread.SpinWait(1); // vary which side goes first
            queue.Enqueue(ActorRefs.Nobody, envelope);
            var senderSawBusy = Volatile.Read(ref status) == busy; // then Mailbox.RegisterForExecution's status read
            if (!Await(ref answered, i, deadline)) break;
            if (senderSawBusy && !consumerSawMessage) lost++;
            ran = i;
        }
        Volatile.Write(ref round, -1);
        Assert.True(consumer.Join(TimeSpan.FromSeconds(15)), "the consumer thread did not end");

        Assert.True(ran >= 10_000, $"only {ran} rounds ran within the time bound");
        Assert.True(lost == 0, $"{lost} of {ran} messages were enqueued unseen: the sender saw the consumer busy and the consumer, idle, saw no message");
    }

    /// <summary>Spins until <paramref name="flag"/> reaches <paramref name="value"/>; false once it is abandoned (-1) or the deadline passes.</summary>
    private static bool Await(ref int flag, int value, long deadline)
    {
        var spinner = new SpinWait();
        while (true)
        {
            var seen = Volatile.Read(ref flag);
            if (seen == value) return true;
            if (seen < 0 || Environment.TickCount64 >= deadline) return false;
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }
}
