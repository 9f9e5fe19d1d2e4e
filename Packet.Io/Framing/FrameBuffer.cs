using System.Diagnostics;

namespace Packet.Io.Framing;

/// <summary>
/// The reusable byte array a decoder assembles a frame, line or binary block in. It grows on
/// demand up to a hard capacity fixed by the decoder's limits, and gives back arrays larger than
/// <see cref="RetainedCapacity"/> once their content has been delivered, so that an idle
/// connection does not keep the memory of its largest frame.
/// </summary>
internal sealed class FrameBuffer
{
    /// <summary>Arrays up to this size are kept between frames; larger ones are dropped by <see cref="Release"/>.</summary>
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
    /// <paramref name="preserve"/> bytes. Grows by doubling so that a line fed one byte at a time
    /// costs O(log n) allocations, never beyond the decoder's maximum.
    /// </summary>
    public void EnsureCapacity(int needed, int preserve)
    {
        if (needed <= Bytes.Length)
        {
            return;
        }

        Debug.Assert(needed <= _maxCapacity, "the decoder checks its limit before buffering");
        var doubled = (int)Math.Min(_maxCapacity, Math.Max(MinimumCapacity, 2L * Bytes.Length));
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
