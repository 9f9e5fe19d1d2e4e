using System.Text;

namespace Packet.Io.Framing;

/// <summary>
/// Packet's frame format (Ruby Packet's <c>BinParser</c>): a 9-byte ASCII, zero-padded decimal
/// payload length, then the payload. <c>"hello"</c> is sent as <c>"000000005hello"</c>; an empty
/// payload is the frame <c>"000000000"</c> and is delivered as an empty frame.
/// </summary>
/// <remarks>
/// Unlike the Ruby original, which dropped the rest of a chunk on a bad header and silently lost
/// its place in the stream, this decoder throws a <see cref="FramingException"/> as soon as a
/// header byte is not an ASCII digit (even when the header is split across chunks), and stays
/// poisoned afterwards. One instance per connection; not thread-safe.
/// </remarks>
public sealed class BinParser : IFrameDecoder, IPartialFrames
{
    /// <summary>
    /// The largest length a 9-digit header can express, 999,999,999 bytes: the upper bound for
    /// the <c>maxFrameLength</c> given to the constructor.
    /// </summary>
    public const int MaxRepresentableFrameLength = 999_999_999;

    private const int HeaderLength = 9;

    private readonly FrameAssembler _assembler;

    /// <summary>
    /// Creates the framer of one connection. Allocates no frame buffer until payload bytes arrive.
    /// </summary>
    /// <param name="maxFrameLength">
    /// Largest payload accepted both ways (the library passes <c>packet.framing.max-frame-length</c>).
    /// A peer announcing more is rejected from the header alone.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="maxFrameLength"/> is negative or above <see cref="MaxRepresentableFrameLength"/>.
    /// </exception>
    public BinParser(int maxFrameLength)
    {
        if (maxFrameLength is < 0 or > MaxRepresentableFrameLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxFrameLength),
                maxFrameLength,
                $"a BinParser frame length must be between 0 and {MaxRepresentableFrameLength} bytes (9 decimal digits)");
        }

        _assembler = new FrameAssembler(nameof(BinParser), HeaderLength, maxFrameLength, ParseHeader);
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
                $"payload of {payload.Length} bytes exceeds the BinParser limit of {MaxFrameLength} bytes",
                nameof(payload));
        }

        var frame = new byte[HeaderLength + payload.Length];
        var length = payload.Length;
        for (var i = HeaderLength - 1; i >= 0; i--)
        {
            frame[i] = (byte)('0' + (length % 10));
            length /= 10;
        }

        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    private static long ParseHeader(ReadOnlySpan<byte> header)
    {
        long length = 0;
        for (var i = 0; i < header.Length; i++)
        {
            var digit = header[i] - '0';
            if ((uint)digit > 9)
            {
                throw new FramingException(
                    $"BinParser header \"{Printable(header)}\" is not {HeaderLength} decimal digits " +
                    $"(byte {i} is 0x{header[i]:x2})");
            }

            length = (length * 10) + digit;
        }

        return header.Length < HeaderLength ? -1 : length;
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append($"\\x{b:x2}");
            }
        }

        return text.ToString();
    }
}
