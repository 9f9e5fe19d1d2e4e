using System.Buffers;
using System.Reflection;
using Microsoft.AspNetCore.Connections;

namespace Packet.Io.Transports;

/// <summary>
/// Pinned blocks of one size, reused: the memory Kestrel's pipes rent (<c>packet.tcp.kestrel.block-size</c>)
/// and that the sockets transport reads into (<c>packet.tcp.sockets.read-size</c>). Kestrel's own pool has
/// 4 KiB blocks, so a socket read takes at most 4 KiB per system call; larger blocks let one call take a
/// 16 KiB message whole. Idle connections hold no block (both transports wait for data before renting
/// one), and at most <see cref="RetainedBytes"/> of free blocks are kept.
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

    /// <summary>
    /// Gives Kestrel's connection factory <paramref name="options"/> a pool of <paramref name="blockSize"/> blocks.
    /// The options take a pool only through an internal property, which ASP.NET Core fills from
    /// dependency injection; where a later framework lacks it, Kestrel keeps its own pool (a test pins it).
    /// </summary>
    internal static T Install<T>(T options, int blockSize) where T : class
    {
        typeof(T).GetProperty("MemoryPoolFactory", BindingFlags.Instance | BindingFlags.NonPublic)?.SetValue(options, new Factory(blockSize));
        return options;
    }

    /// <summary>Makes the pool of a Kestrel connection factory.</summary>
    internal sealed class Factory(int blockSize) : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new BlockPool(blockSize);
    }

    private sealed class Block(BlockPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = array;

        public void Dispose() => pool.Return(this);
    }
}
