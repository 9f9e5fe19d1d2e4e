using System.Diagnostics;

namespace Packet.Io.Framing;

/// <summary>
/// The reusable byte array a decoder assembles a frame, line or binary block in. It grows with
/// the bytes that have arrived, by doubling, up to a hard capacity fixed by the decoder's limits,
/// and gives back arrays larger than <see cref="RetainedCapacity"/> once their content has been
/// delivered, so that an idle connection does not keep the memory of its largest frame.
/// </summary>
internal sealed class FrameBuffer
{
    /// <summary>
    /// Arrays up to this size are kept between frames; larger ones are dropped by
    /// <see cref="Release"/>. Small frames then cost no allocation at all, while a server with
    /// thousands of connections that each once took a 16 MiB frame does not hold 16 MiB per
    /// connection for as long as they stay open: the next large frame grows a new array.
    /// </summary>
    internal const int RetainedCapacity = 64 * 1024;

    private const int MinimumCapacity = 256;

    private readonly int _maxCapacity;

    /// <param name="maxCapacity">The most bytes the owning decoder ever needs at once.</param>
    public FrameBuffer(int maxCapacity)
    {
        _maxCapacity = maxCapacity;
    }

    /// <summary>The current array; its length is the capacity. Empty until first needed.</summary>
    public byte[] Bytes { get; private set; } = [];

    /// <summary>
    /// Makes <see cref="Bytes"/> at least <paramref name="needed"/> long, keeping its first
    /// <paramref name="preserve"/> bytes, for an item that may grow up to the decoder's maximum
    /// (a line).
    /// </summary>
    public void EnsureCapacity(int needed, int preserve) => EnsureCapacity(needed, preserve, _maxCapacity);

    /// <summary>
    /// Makes <see cref="Bytes"/> at least <paramref name="needed"/> long, keeping its first
    /// <paramref name="preserve"/> bytes, for an item that will be at most <paramref name="ceiling"/>
    /// bytes long (a frame or block whose length a header announced).
    /// </summary>
    /// <remarks>
    /// Callers pass as <paramref name="needed"/> the bytes received so far, never the announced
    /// length: a 4-byte header costs the peer nothing, so sizing the array by it would let each
    /// connection make the server allocate the whole limit (16 MiB by default) for free. Growing by
    /// doubling keeps the array within twice the bytes received (256 bytes at least), and costs O(log n) allocations and
    /// fewer than n bytes copied for an item fed in n small pieces; <paramref name="ceiling"/> stops
    /// the last doubling at the announced length.
    /// </remarks>
    public void EnsureCapacity(int needed, int preserve, int ceiling)
    {
        if (needed <= Bytes.Length)
        {
            return;
        }

        Debug.Assert(needed <= ceiling && ceiling <= _maxCapacity, "the decoder checks its limit before buffering");
        var doubled = (int)Math.Min(ceiling, Math.Max(MinimumCapacity, 2L * Bytes.Length));
        var next = new byte[Math.Max(needed, doubled)];
        Bytes.AsSpan(0, preserve).CopyTo(next);
        Bytes = next;
    }

    /// <summary>Called once the buffered content has been delivered: drops an oversized array.</summary>
    public void Release()
    {
        if (Bytes.Length > RetainedCapacity)
        {
            Bytes = [];
        }
    }
}
