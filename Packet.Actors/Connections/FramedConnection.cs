using Packet.Io.Framing;

namespace Packet.Actors;

/// <summary>The wire format of a <see cref="FramedConnection"/>.</summary>
public enum FrameFormat
{
    /// <summary>A 4-byte big-endian length, then the payload.</summary>
    LengthPrefixed,

    /// <summary>Packet's <c>BinParser</c> format: a 9-digit zero-padded decimal length, then the payload.</summary>
    BinParser,
}

/// <summary>
/// A <see cref="Connection"/> that exchanges whole frames instead of raw chunks. Override
/// <see cref="ReceiveFrame"/> and send with <see cref="SendFrame"/>.
/// </summary>
/// <remarks>
/// A malformed header or a frame over <c>packet.framing.max-frame-length</c> closes the connection
/// with <see cref="UnbindKind.ProtocolError"/>; the stream is never resynchronised by guessing.
/// </remarks>
public abstract class FramedConnection : Connection
{
    private readonly FrameFormat _format;
    private readonly Action<ReadOnlyMemory<byte>> _onFrame;
    private IFrameDecoder? _decoder;

    /// <summary>Creates a framed handler.</summary>
    /// <param name="format">The wire format; length-prefixed unless given.</param>
    protected FramedConnection(FrameFormat format = FrameFormat.LengthPrefixed)
    {
        _format = format;
        _onFrame = ReceiveFrame;
    }

    private IFrameDecoder Decoder => _decoder ??= _format switch
    {
        FrameFormat.BinParser => new BinParser(Reactor.Settings.MaxFrameLength),
        _ => new LengthPrefixedFramer(Reactor.Settings.MaxFrameLength),
    };

    /// <summary>Called once per complete frame, in order. The memory is valid only during the call.</summary>
    /// <param name="frame">The payload, without its header.</param>
    protected abstract void ReceiveFrame(ReadOnlyMemory<byte> frame);

    /// <summary>Sends <paramref name="payload"/> as one frame.</summary>
    /// <param name="payload">The payload; at most <c>packet.framing.max-frame-length</c> bytes.</param>
    /// <exception cref="ArgumentException">The payload is over the limit.</exception>
    public void SendFrame(ReadOnlySpan<byte> payload) => SendData(Decoder.Encode(payload));

    /// <inheritdoc />
    protected sealed override void ReceiveData(ReadOnlyMemory<byte> data) => Decoder.Decode(data.Span, _onFrame);
}
