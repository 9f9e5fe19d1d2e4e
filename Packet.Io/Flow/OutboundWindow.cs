namespace Packet.Io.Flow;

/// <summary>
/// Accounts for one connection's output: bytes handed to the socket layer and not yet acknowledged.
/// Pure bookkeeping; the connection actor acts on what it answers.
/// </summary>
/// <remarks>
/// Crossing <c>highWaterMark</c> upwards asks the owner to stop reading from the peer; falling to
/// <c>lowWaterMark</c> or below lets it read again. A write that would exceed <c>maxOutbound</c> is
/// refused, so the owner can close with a reason instead of buffering without bound.
/// </remarks>
internal sealed class OutboundWindow(int highWaterMark, int lowWaterMark, int maxOutbound)
{
    /// <summary>Bytes accepted and not yet acknowledged.</summary>
    public long Outbound { get; private set; }

    /// <summary>True between crossing the high-water mark and falling back to the low-water mark.</summary>
    public bool IsAboveHighWater { get; private set; }

    /// <summary>Whether <paramref name="bytes"/> more fit under the hard limit.</summary>
    public bool Fits(int bytes) => Outbound + bytes <= maxOutbound;

    /// <summary>Counts bytes that were handed on; answers true when this write crossed the high-water mark.</summary>
    public bool Add(int bytes)
    {
        Outbound += bytes;
        if (IsAboveHighWater || Outbound <= highWaterMark) return false;
        IsAboveHighWater = true;
        return true;
    }

    /// <summary>Counts acknowledged bytes; answers true when this ack brought the window back to the low-water mark.</summary>
    public bool Acknowledge(int bytes)
    {
        Outbound -= bytes;
        if (Outbound < 0) throw new InvalidOperationException($"acknowledged {-Outbound} bytes more than were sent");
        if (!IsAboveHighWater || Outbound > lowWaterMark) return false;
        IsAboveHighWater = false;
        return true;
    }
}
