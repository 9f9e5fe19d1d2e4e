using Packet.Actors.Workers.Protocol;
using Xunit;

namespace Packet.Tests.Workers;

public sealed class BatchTests
{
    [Fact]
    public void A_batch_hands_back_what_it_holds_when_the_next_item_would_pass_the_byte_limit()
    {
        var batch = new Batch<int>(maxBytes: 10, size: item => item);

        Assert.Null(batch.Add(4));
        Assert.Null(batch.Add(6));
        Assert.Equal([4, 6], batch.Add(1)!);
        Assert.Equal([1], batch.Take());
        Assert.True(batch.IsEmpty);
    }

    [Fact]
    public void An_item_larger_than_the_limit_travels_alone()
    {
        var batch = new Batch<int>(maxBytes: 10, size: item => item);

        Assert.Null(batch.Add(25));
        Assert.Equal([25], batch.Add(1)!);
        Assert.Equal([1], batch.Take());
    }
}
