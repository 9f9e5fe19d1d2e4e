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
/// with <see cref="UnbindKind.ProtocolError"/>; the stream is never resynchronised by guessing. So does
/// a frame that arrives slower than <c>packet.framing.min-data-rate</c> once it has begun.
/// </remarks>
public abstract class FramedConnection : Connection
{
    private readonly FrameFormat _format;
    private readonly Action<ReadOnlyMemory<byte>> _onFrame;
    private IFrameDecoder? _decoder;
    private int _framesInChunk;
    private long _partialSince; // when the frame being received began (Environment.TickCount64), 0 between frames
    private long _partialBytes; // its bytes so far
    private TimerHandle? _rateCheck;

    /// <summary>Creates a framed handler.</summary>
    /// <param name="format">The wire format; length-prefixed unless given.</param>
    protected FramedConnection(FrameFormat format = FrameFormat.LengthPrefixed)
    {
        _format = format;
        _onFrame = frame =>
        {
            _framesInChunk++;
            ReceiveFrame(frame);
        };
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
    protected sealed override void ReceiveData(ReadOnlyMemory<byte> data)
    {
        _framesInChunk = 0;
        Decoder.Decode(data.Span, _onFrame);
        WatchRate(data.Length);
    }

    /// <summary>
    /// Measures the frame being received against <c>packet.framing.min-data-rate</c>: from its first byte,
    /// on every chunk and every second while it is incomplete, so a client that goes silent mid-frame is
    /// caught too.
    /// </summary>
    private void WatchRate(int chunk)
    {
        var settings = Reactor.Settings;
        var buffered = ((IPartialFrames)Decoder).Buffered;
        if (settings.MinDataRate == 0 || buffered == 0)
        {
            _partialSince = 0;
            _rateCheck?.Cancel();
            _rateCheck = null;
            return;
        }
        if (_partialSince == 0 || _framesInChunk > 0)
        {
            _partialSince = Environment.TickCount64; // a new frame began in this chunk
            _partialBytes = buffered;
        }
        else
        {
            _partialBytes += chunk;
        }
        _rateCheck ??= AddPeriodicTimer(TimeSpan.FromSeconds(1), CheckRate);
        CheckRate();
    }

    private void CheckRate()
    {
        var settings = Reactor.Settings;
        var elapsed = Environment.TickCount64 - _partialSince;
        if (_partialSince == 0 || elapsed <= settings.MinDataRateGrace.TotalMilliseconds) return;
        var rate = _partialBytes * 1000 / elapsed;
        if (rate < settings.MinDataRate)
            throw new FramingException(
                $"a frame has arrived at {rate} bytes/s for {elapsed / 1000.0:0.#} s, below packet.framing.min-data-rate ({settings.MinDataRate} bytes/s)");
    }
}
