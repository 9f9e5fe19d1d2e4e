using Packet.Io.Transports.Sockets;
using Xunit;

namespace Packet.Tests.Tcp;

public sealed class BlockPoolTests
{
    [Fact]
    public void Blocks_have_the_configured_size_and_a_returned_block_is_reused()
    {
        using var pool = new BlockPool(16 * 1024);

        var first = pool.Rent(4096);
        var memory = first.Memory;
        first.Dispose();
        using var second = pool.Rent();

        Assert.Equal(16 * 1024, memory.Length);
        Assert.Equal(16 * 1024, pool.MaxBufferSize);
        Assert.True(second.Memory.Span == memory.Span, "the returned block was not reused");
    }

    [Fact]
    public void A_pool_keeps_at_most_its_retained_bytes_of_free_blocks()
    {
        const int blockSize = 1024 * 1024;
        using var pool = new BlockPool(blockSize);
        var blocks = Enumerable.Range(0, BlockPool.RetainedBytes / blockSize + 4).Select(_ => pool.Rent()).ToList();
        foreach (var block in blocks) block.Dispose();

        var again = Enumerable.Range(0, blocks.Count).Select(_ => pool.Rent()).ToList();
        var reused = again.Count(b => blocks.Any(old => old.Memory.Span == b.Memory.Span));

        Assert.Equal(BlockPool.RetainedBytes / blockSize, reused);
    }

    [Fact]
    public void A_request_larger_than_a_block_is_refused()
    {
        using var pool = new BlockPool(4096);

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(4097));
    }
}
