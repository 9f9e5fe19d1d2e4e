using System.Diagnostics;

namespace Packet.Io.Framing;

/// <summary>
/// Reads a length header of the given size from the header bytes received so far.
/// </summary>
/// <param name="header">Between 1 and the full header length of bytes, as received.</param>
/// <returns>-1 while the header is incomplete; the payload length once it is complete.</returns>
/// <exception cref="FramingException">The bytes received so far cannot start a valid header.</exception>
internal delegate long FrameHeaderParser(ReadOnlySpan<byte> header);

/// <summary>
/// The decode loop of every "fixed-size length header, then payload" protocol: collects the
/// header across chunks, checks the announced length against the limit as soon as the header is
/// complete, then collects the payload into a reusable buffer and hands it out. The buffer grows
/// with the payload bytes received, never ahead of them to the announced length: a partial frame
/// holds at most twice what the peer has sent of it (or the small buffer kept between frames), and
/// never more than the header plus <see cref="MaxFrameLength"/>.
/// </summary>
internal sealed class FrameAssembler
{
    private readonly string _name;
    private readonly FrameHeaderParser _parseHeader;
    private readonly byte[] _header;
    private readonly FrameBuffer _body;
    private readonly DecodeGuard _guard;
    private int _headerFill;
    private int _bodyLength = -1;
    private int _bodyFill;

    /// <param name="name">The protocol name used in error messages.</param>
    /// <param name="headerLength">Bytes in each frame's header.</param>
    /// <param name="maxFrameLength">Largest payload accepted; already validated by the caller.</param>
    /// <param name="parseHeader">Validates and reads the header.</param>
    public FrameAssembler(string name, int headerLength, int maxFrameLength, FrameHeaderParser parseHeader)
    {
        _name = name;
        _parseHeader = parseHeader;
        _header = new byte[headerLength];
        MaxFrameLength = maxFrameLength;
        _body = new FrameBuffer(maxFrameLength);
        _guard = new DecodeGuard(name);
    }

    /// <summary>Largest payload accepted.</summary>
    public int MaxFrameLength { get; }

    /// <summary>Bytes of a frame begun and not yet delivered (header and body so far); 0 between frames.</summary>
    public int Buffered => _bodyLength < 0 ? _headerFill : _header.Length + _bodyFill;

    /// <summary>See <see cref="IFrameDecoder.Decode"/>.</summary>
    public void Decode(ReadOnlySpan<byte> chunk, Action<ReadOnlyMemory<byte>> onFrame)
    {
        ArgumentNullException.ThrowIfNull(onFrame);
        _guard.Enter();
        try
        {
            Run(chunk, onFrame);
        }
        catch (Exception failure)
        {
            _guard.Fail(failure);
            throw;
        }
        finally
        {
            _guard.Leave();
        }
    }

    private void Run(ReadOnlySpan<byte> chunk, Action<ReadOnlyMemory<byte>> onFrame)
    {
        while (true)
        {
            if (_bodyLength < 0)
            {
                if (_headerFill == 0 && chunk.Length >= _header.Length)
                {
                    StartBody(_parseHeader(chunk[.._header.Length]));
                    chunk = chunk[_header.Length..];
                }
                else
                {
                    if (chunk.IsEmpty)
                    {
                        return;
                    }

                    var take = Math.Min(_header.Length - _headerFill, chunk.Length);
                    chunk[..take].CopyTo(_header.AsSpan(_headerFill));
                    _headerFill += take;
                    chunk = chunk[take..];
                    var length = _parseHeader(_header.AsSpan(0, _headerFill));
                    if (length < 0)
                    {
                        Debug.Assert(chunk.IsEmpty, "an incomplete header consumed the whole chunk");
                        return;
                    }

                    _headerFill = 0;
                    StartBody(length);
                }
            }

            // The buffer grows with the body bytes at hand, up to the announced length; a body that
            // arrives whole in this chunk gets an array of exactly its length, and one copy.
            var arrived = Math.Min(_bodyLength - _bodyFill, chunk.Length);
            _body.EnsureCapacity(_bodyFill + arrived, preserve: _bodyFill, ceiling: _bodyLength);
            chunk[..arrived].CopyTo(_body.Bytes.AsSpan(_bodyFill));
            _bodyFill += arrived;
            chunk = chunk[arrived..];
            if (_bodyFill < _bodyLength)
            {
                return;
            }

            var frameLength = _bodyLength;
            _bodyLength = -1;
            _bodyFill = 0;
            onFrame(_body.Bytes.AsMemory(0, frameLength));
            _body.Release();
        }
    }

    private void StartBody(long length)
    {
        if (length > MaxFrameLength)
        {
            throw new FramingException($"{_name} frame length {length} exceeds the limit of {MaxFrameLength} bytes");
        }

        // Nothing is allocated yet: a header costs the peer only a few bytes (see FrameBuffer).
        _bodyLength = (int)length;
    }
}
