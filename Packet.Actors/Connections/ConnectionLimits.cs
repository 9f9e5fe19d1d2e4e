using Packet.Io.Configuration;

namespace Packet.Actors;

/// <summary>
/// The limits a reactor holds every connection to, read from its configuration, so a handler can answer a
/// request that would pass one with an error of its protocol's own (Redis' <c>-ERR</c>, HTTP's 413) instead
/// of being closed. The same instance for every connection of a reactor: <see cref="Connection.Limits"/>.
/// </summary>
public sealed class ConnectionLimits
{
    internal ConnectionLimits(TransportSettings settings)
    {
        MaxLineLength = settings.MaxLineLength;
        MaxBinaryLength = settings.MaxBinaryLength;
        MaxFrameLength = settings.MaxFrameLength;
        HighWaterMark = settings.HighWaterMark;
        LowWaterMark = settings.LowWaterMark;
        MaxOutbound = settings.MaxOutbound;
    }

    /// <summary>
    /// <c>packet.framing.max-line-length</c>: the longest line, without its delimiter, a <see cref="LineConnection"/>
    /// takes; a longer one closes the connection with <see cref="UnbindKind.ProtocolError"/>.
    /// </summary>
    public int MaxLineLength { get; }

    /// <summary>
    /// <c>packet.framing.max-binary-length</c>: the largest block <see cref="LineConnection.SetBinaryMode"/> takes;
    /// it throws <see cref="ArgumentOutOfRangeException"/> above it.
    /// </summary>
    public int MaxBinaryLength { get; }

    /// <summary>
    /// <c>packet.framing.max-frame-length</c>: the largest frame payload a <see cref="FramedConnection"/> receives
    /// (a larger one closes the connection with <see cref="UnbindKind.ProtocolError"/>) or sends (<see cref="FramedConnection.SendFrame"/> throws <see cref="ArgumentException"/>).
    /// </summary>
    public int MaxFrameLength { get; }

    /// <summary>
    /// <c>packet.tcp.backpressure.high-water-mark</c>: above this many bytes of output waiting for the peer,
    /// <see cref="Connection.IsWritable"/> turns false and reading pauses.
    /// </summary>
    public int HighWaterMark { get; }

    /// <summary>
    /// <c>packet.tcp.backpressure.low-water-mark</c>: once output waiting for the peer falls to this many bytes,
    /// <see cref="Connection.IsWritable"/> turns true again and reading resumes.
    /// </summary>
    public int LowWaterMark { get; }

    /// <summary>
    /// <c>packet.tcp.backpressure.max-outbound</c>: a send that would take the output waiting for the peer above
    /// this many bytes closes the connection with <see cref="UnbindKind.OutboundOverflow"/>.
    /// </summary>
    public int MaxOutbound { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"line {MaxLineLength} B, binary {MaxBinaryLength} B, frame {MaxFrameLength} B, water marks {LowWaterMark}-{HighWaterMark} B, outbound {MaxOutbound} B";
}
