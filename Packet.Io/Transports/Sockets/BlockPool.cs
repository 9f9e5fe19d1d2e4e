using System.Buffers;

namespace Packet.Io.Transports.Sockets;

/// <summary>
/// Pinned blocks of one size, reused: the memory the sockets transport reads into
/// (<c>packet.tcp.sockets.read-size</c>). Blocks larger than 4 KiB let one system call take a 16 KiB
/// message whole. An idle connection holds no block (a read waits for data before renting one), and at
/// most <see cref="RetainedBytes"/> of free blocks are kept.
/// </summary>
internal sealed class BlockPool(int blockSize) : MemoryPool<byte>
{
    /// <summary>How many bytes of returned blocks a pool keeps for reuse; beyond it they go to the GC.</summary>
    internal const int RetainedBytes = 16 * 1024 * 1024;

    private readonly int _retained = Math.Max(1, RetainedBytes / blockSize);
    private readonly Lock _gate = new();
    private readonly Stack<Block> _free = new();

    public override int MaxBufferSize => blockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, blockSize);
        lock (_gate)
        {
            if (_free.TryPop(out var block)) return block;
        }
        return new Block(this, GC.AllocateUninitializedArray<byte>(blockSize, pinned: true));
    }

    private void Return(Block block)
    {
        lock (_gate)
        {
            if (_free.Count < _retained) _free.Push(block);
        }
    }

    protected override void Dispose(bool disposing)
    {
        lock (_gate) _free.Clear();
    }

    private sealed class Block(BlockPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = array;

        public void Dispose() => pool.Return(this);
    }
}
