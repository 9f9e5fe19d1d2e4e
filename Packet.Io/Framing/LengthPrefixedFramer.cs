using System.Buffers.Binary;

namespace Packet.Io.Framing;

/// <summary>
/// The common binary frame format: a 4-byte big-endian unsigned payload length, then the payload.
/// An empty payload is the frame <c>00 00 00 00</c> and is delivered as an empty frame.
/// </summary>
/// <remarks>
/// A header announcing more than <see cref="MaxFrameLength"/> (up to 4,294,967,295) is rejected
/// with a <see cref="FramingException"/> as soon as its fourth byte arrives, before any of the
/// body is buffered; the decoder stays poisoned afterwards. One instance per connection; not
/// thread-safe.
/// </remarks>
public sealed class LengthPrefixedFramer : IFrameDecoder, IPartialFrames
{
    private const int HeaderLength = 4;

    private readonly FrameAssembler _assembler;

    /// <summary>
    /// Creates the framer of one connection. Allocates no frame buffer until payload bytes arrive.
    /// </summary>
    /// <param name="maxFrameLength">
    /// Largest payload accepted both ways (the library passes <c>packet.framing.max-frame-length</c>).
    /// A peer announcing more is rejected from the header alone.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="maxFrameLength"/> is negative, or so large that a frame would not fit in a .NET array.
    /// </exception>
    public LengthPrefixedFramer(int maxFrameLength)
    {
        if (maxFrameLength < 0 || maxFrameLength > Array.MaxLength - HeaderLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxFrameLength),
                maxFrameLength,
                $"a LengthPrefixedFramer frame length must be between 0 and {Array.MaxLength - HeaderLength} bytes");
        }

        _assembler = new FrameAssembler(nameof(LengthPrefixedFramer), HeaderLength, maxFrameLength, ParseHeader);
    }

    /// <inheritdoc />
    public int MaxFrameLength => _assembler.MaxFrameLength;

    /// <inheritdoc cref="IPartialFrames.Buffered"/>
    int IPartialFrames.Buffered => _assembler.Buffered;

    /// <inheritdoc />
    public void Decode(ReadOnlySpan<byte> chunk, Action<ReadOnlyMemory<byte>> onFrame) =>
        _assembler.Decode(chunk, onFrame);

    /// <inheritdoc />
    public byte[] Encode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxFrameLength)
        {
            throw new ArgumentException(
                $"payload of {payload.Length} bytes exceeds the LengthPrefixedFramer limit of {MaxFrameLength} bytes",
                nameof(payload));
        }

        var frame = new byte[HeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    private static long ParseHeader(ReadOnlySpan<byte> header) =>
        header.Length < HeaderLength ? -1 : BinaryPrimitives.ReadUInt32BigEndian(header);
}
