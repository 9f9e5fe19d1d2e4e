namespace Packet.Io.Framing;

/// <summary>
/// Cuts a byte stream into delimited lines, with an optional switch to fixed-size binary blocks:
/// EventMachine's LineText2. A handler typically reads a header line that announces a body
/// length, calls <see cref="SetBinaryMode"/> with it, receives the body as one
/// <see cref="ILineHandler.OnBinary"/> call, and is then back in line mode.
/// </summary>
/// <remarks>
/// <para>
/// Lines are delivered without their delimiter. When the delimiter is exactly <c>"\n"</c>, one
/// trailing <c>'\r'</c> is stripped as well, so clients that end lines with <c>"\r\n"</c> (telnet,
/// <c>nc -C</c>) and clients that end them with <c>"\n"</c> read the same; a <c>'\r'</c> elsewhere
/// in the line is kept. With any other delimiter nothing but the delimiter is removed.
/// Multi-byte delimiters are found even when split across chunks.
/// </para>
/// <para>
/// Memory is bounded: a partial line is buffered only up to <see cref="MaxLineLength"/> (plus the
/// bytes that could still be the start of the delimiter), a binary block up to
/// <see cref="MaxBinaryLength"/>. The buffer grows with the bytes received, never ahead of them
/// to the size given to <see cref="SetBinaryMode"/>, so a peer that announces a large block and
/// sends little of it costs little memory.
/// </para>
/// <para>
/// One instance per connection, used by the single actor that owns the connection; not
/// thread-safe. Any exception leaving <see cref="Decode"/> (a <see cref="FramingException"/>, or
/// one thrown by the handler) poisons the framer: every later <see cref="Decode"/> throws a
/// <see cref="FramingException"/> saying the stream is desynchronised and must be closed.
/// </para>
/// </remarks>
public sealed class LineFramer
{
    private const byte CarriageReturn = (byte)'\r';

    private readonly byte[] _delimiter;
    private readonly bool _stripCarriageReturn;
    private readonly int _terminatorLength;
    private readonly byte[] _straddle;
    private readonly FrameBuffer _buffer;
    private readonly DecodeGuard _guard = new(nameof(LineFramer));

    // Line mode (_binarySize < 0): bytes of the unfinished line in _buffer.
    // Binary mode (_binarySize >= 0): bytes of the block received so far in _buffer.
    private int _buffered;
    private int _binarySize = -1;

    // A partial line that SetBinaryMode, called between Decode calls, turned into the start of the
    // binary block: decoded again, in binary mode, before the next chunk.
    private byte[]? _replay;

    /// <summary>
    /// Creates a framer with the delimiter <c>"\n"</c> (a trailing <c>'\r'</c> is stripped too).
    /// </summary>
    /// <param name="maxLineLength">
    /// Longest line, in bytes without its delimiter (the library passes
    /// <c>packet.framing.max-line-length</c>).
    /// </param>
    /// <param name="maxBinaryLength">
    /// Largest block <see cref="SetBinaryMode"/> accepts (the library passes
    /// <c>packet.framing.max-binary-length</c>).
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is negative or too large for an array.</exception>
    public LineFramer(int maxLineLength, int maxBinaryLength)
        : this("\n"u8, maxLineLength, maxBinaryLength)
    {
    }

    /// <summary>
    /// Creates a framer with any delimiter, for example <c>"\r\n"u8</c> or <c>"END"u8</c>.
    /// </summary>
    /// <param name="delimiter">The bytes that end a line; copied. Must not be empty.</param>
    /// <param name="maxLineLength">
    /// Longest line, in bytes without its delimiter (the library passes
    /// <c>packet.framing.max-line-length</c>).
    /// </param>
    /// <param name="maxBinaryLength">
    /// Largest block <see cref="SetBinaryMode"/> accepts (the library passes
    /// <c>packet.framing.max-binary-length</c>).
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="delimiter"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is negative or too large for an array.</exception>
    public LineFramer(ReadOnlySpan<byte> delimiter, int maxLineLength, int maxBinaryLength)
    {
        if (delimiter.IsEmpty)
        {
            throw new ArgumentException("a LineFramer delimiter must have at least one byte", nameof(delimiter));
        }

        _delimiter = delimiter.ToArray();
        _stripCarriageReturn = delimiter is [(byte)'\n'];
        _terminatorLength = _stripCarriageReturn ? 2 : _delimiter.Length;
        _straddle = new byte[2 * (_delimiter.Length - 1)];

        if (maxLineLength < 0 || maxLineLength > Array.MaxLength - _terminatorLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxLineLength),
                maxLineLength,
                $"a LineFramer line length must be between 0 and {Array.MaxLength - _terminatorLength} bytes");
        }

        if (maxBinaryLength < 0 || maxBinaryLength > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxBinaryLength),
                maxBinaryLength,
                $"a LineFramer binary length must be between 0 and {Array.MaxLength} bytes");
        }

        MaxLineLength = maxLineLength;
        MaxBinaryLength = maxBinaryLength;
        _buffer = new FrameBuffer(Math.Max(maxLineLength + _terminatorLength - 1, maxBinaryLength));
    }

    /// <summary>
    /// The bytes that end a line. A sender appends them to each line it writes; they are never
    /// part of what <see cref="ILineHandler.OnLine"/> receives.
    /// </summary>
    public ReadOnlyMemory<byte> Delimiter => _delimiter;

    /// <summary>
    /// Longest line, in bytes without its delimiter (and without the stripped <c>'\r'</c>), that
    /// <see cref="Decode"/> delivers. A longer line raises a <see cref="FramingException"/>
    /// as soon as the bytes received prove it is too long, even before its delimiter arrives.
    /// </summary>
    public int MaxLineLength { get; }

    /// <summary>Largest block, in bytes, that <see cref="SetBinaryMode"/> accepts.</summary>
    public int MaxBinaryLength { get; }

    /// <summary>
    /// Called by the connection owner with each chunk exactly as it arrived from the socket (any
    /// size, split anywhere, including inside a delimiter or a binary block). Calls
    /// <paramref name="handler"/> once per complete line or binary block, in stream order, before
    /// returning; keeps any partial line or block for the next call.
    /// </summary>
    /// <param name="chunk">The bytes just read. Not retained after the call returns.</param>
    /// <param name="handler">
    /// Receives the lines and blocks; what it is given is valid only during each call. It may call
    /// <see cref="SetBinaryMode"/>, but must not call <see cref="Decode"/>.
    /// </param>
    /// <exception cref="FramingException">
    /// A line is longer than <see cref="MaxLineLength"/>, or the framer was poisoned by an earlier
    /// failure. Lines and blocks completed earlier in the same chunk have already been delivered.
    /// </exception>
    public void Decode(ReadOnlySpan<byte> chunk, ILineHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _guard.Enter();
        try
        {
            if (_replay is { } replay)
            {
                _replay = null;
                Run(replay, handler);
            }

            Run(chunk, handler);
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

    /// <summary>
    /// Switches to binary mode: the next <paramref name="size"/> bytes of the stream, counted from
    /// the end of the last line or block delivered, are delivered as one
    /// <see cref="ILineHandler.OnBinary"/> call, after which the framer is back in line mode.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Usually called from <see cref="ILineHandler.OnLine"/> (a header line announces a body) or
    /// from <see cref="ILineHandler.OnBinary"/> (back-to-back blocks); it then applies to the rest
    /// of the chunk being decoded. It may also be called between <see cref="Decode"/> calls: bytes
    /// of an unfinished line already buffered then become the start of the block.
    /// </para>
    /// <para>
    /// <c>SetBinaryMode(0)</c> delivers an empty <see cref="ILineHandler.OnBinary"/> at that point
    /// of the stream (right after the current handler call returns, or at the start of the next
    /// <see cref="Decode"/> when called between calls), so a zero-length body is handled like
    /// any other.
    /// </para>
    /// </remarks>
    /// <param name="size">Exact size of the block, from 0 to <see cref="MaxBinaryLength"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="size"/> is negative or above <see cref="MaxBinaryLength"/>.
    /// </exception>
    /// <exception cref="InvalidOperationException">
    /// A block requested earlier has not been delivered yet.
    /// </exception>
    public void SetBinaryMode(int size)
    {
        if (size < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a binary block size must not be negative");
        }

        if (size > MaxBinaryLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(size),
                size,
                $"binary block of {size} bytes exceeds the limit of {MaxBinaryLength} bytes (MaxBinaryLength)");
        }

        if (_binarySize >= 0)
        {
            throw new InvalidOperationException(
                $"SetBinaryMode({size}) was called while a binary block of {_binarySize} bytes " +
                $"({_buffered} received so far) has not been delivered yet");
        }

        if (_buffered > 0)
        {
            // Only possible between Decode calls: inside a handler call no partial line is held.
            _replay = _buffer.Bytes.AsSpan(0, _buffered).ToArray();
            _buffered = 0;
        }

        _binarySize = size;
    }

    private void Run(ReadOnlySpan<byte> input, ILineHandler handler)
    {
        while (true)
        {
            if (_binarySize >= 0)
            {
                if (!TakeBinary(ref input, handler))
                {
                    return;
                }
            }
            else if (input.IsEmpty || !TakeLine(ref input, handler))
            {
                return;
            }
        }
    }

    // Returns false when the input ran out before the block was complete.
    private bool TakeBinary(ref ReadOnlySpan<byte> input, ILineHandler handler)
    {
        // The buffer grows with the bytes at hand, never ahead of them to the size the peer's header
        // line announced (see FrameBuffer); a block that arrives whole gets an array of its size.
        var take = Math.Min(_binarySize - _buffered, input.Length);
        _buffer.EnsureCapacity(_buffered + take, _buffered, ceiling: _binarySize);
        input[..take].CopyTo(_buffer.Bytes.AsSpan(_buffered));
        _buffered += take;
        input = input[take..];
        if (_buffered < _binarySize)
        {
            return false;
        }

        var size = _binarySize;
        _binarySize = -1;
        _buffered = 0;
        handler.OnBinary(_buffer.Bytes.AsMemory(0, size));
        _buffer.Release();
        return true;
    }

    // Returns false when the input ran out before a delimiter was found.
    private bool TakeLine(ref ReadOnlySpan<byte> input, ILineHandler handler)
    {
        if (_buffered > 0 && _delimiter.Length > 1 && TakeStraddlingLine(ref input, handler))
        {
            return true;
        }

        var end = input.IndexOf(_delimiter);
        if (end < 0)
        {
            BufferPartialLine(input);
            return false;
        }

        if (_buffered == 0)
        {
            var line = input[..end];
            input = input[(end + _delimiter.Length)..];
            DeliverLine(line, handler);
            return true;
        }

        var total = _buffered + end;
        var last = end > 0 ? input[end - 1] : _buffer.Bytes[_buffered - 1];
        ThrowIfTooLong(_stripCarriageReturn && last == CarriageReturn ? total - 1 : total);
        _buffer.EnsureCapacity(total, _buffered);
        input[..end].CopyTo(_buffer.Bytes.AsSpan(_buffered));
        input = input[(end + _delimiter.Length)..];
        _buffered = 0;
        DeliverLine(_buffer.Bytes.AsSpan(0, total), handler);
        _buffer.Release();
        return true;
    }

    // A delimiter that starts in the buffered partial line and ends in this input.
    private bool TakeStraddlingLine(ref ReadOnlySpan<byte> input, ILineHandler handler)
    {
        var tail = Math.Min(_buffered, _delimiter.Length - 1);
        var head = Math.Min(input.Length, _delimiter.Length - 1);
        var window = _straddle.AsSpan(0, tail + head);
        _buffer.Bytes.AsSpan(_buffered - tail, tail).CopyTo(window);
        input[..head].CopyTo(window[tail..]);
        var start = window.IndexOf(_delimiter);
        if (start < 0 || start >= tail)
        {
            return false;
        }

        var lineLength = _buffered - tail + start;
        input = input[(start + _delimiter.Length - tail)..];
        _buffered = 0;
        DeliverLine(_buffer.Bytes.AsSpan(0, lineLength), handler);
        _buffer.Release();
        return true;
    }

    private void BufferPartialLine(ReadOnlySpan<byte> input)
    {
        // Of the buffered bytes, up to _terminatorLength - 1 at the end may still turn out to be
        // the start of the delimiter; every byte before them is certainly part of the line.
        if ((long)_buffered + input.Length - (_terminatorLength - 1) > MaxLineLength)
        {
            throw LineWithoutDelimiter();
        }

        _buffer.EnsureCapacity(_buffered + input.Length, _buffered);
        input.CopyTo(_buffer.Bytes.AsSpan(_buffered));
        _buffered += input.Length;
        if (_buffered - PartialTerminatorLength() > MaxLineLength)
        {
            throw LineWithoutDelimiter();
        }
    }

    // How many bytes at the end of the buffered line could be the start of its terminator.
    private int PartialTerminatorLength()
    {
        var buffered = _buffer.Bytes.AsSpan(0, _buffered);
        if (_stripCarriageReturn)
        {
            return buffered is [.., CarriageReturn] ? 1 : 0;
        }

        for (var length = Math.Min(_delimiter.Length - 1, buffered.Length); length > 0; length--)
        {
            if (buffered[^length..].SequenceEqual(_delimiter.AsSpan(0, length)))
            {
                return length;
            }
        }

        return 0;
    }

    private void DeliverLine(ReadOnlySpan<byte> line, ILineHandler handler)
    {
        if (_stripCarriageReturn && line is [.., CarriageReturn])
        {
            line = line[..^1];
        }

        ThrowIfTooLong(line.Length);
        handler.OnLine(line);
    }

    private void ThrowIfTooLong(int lineLength)
    {
        if (lineLength > MaxLineLength)
        {
            throw new FramingException($"line of {lineLength} bytes exceeds the limit of {MaxLineLength} bytes");
        }
    }

    private FramingException LineWithoutDelimiter() =>
        new($"line of more than {MaxLineLength} bytes without a delimiter");
}
