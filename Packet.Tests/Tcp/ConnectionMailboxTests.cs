using Akka.Actor;
using Packet.Actors.Runtime;
using Xunit;

namespace Packet.Tests.Tcp;

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
}
