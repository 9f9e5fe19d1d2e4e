using System.Buffers;
using System.Text;
using Packet.Io.Framing;

namespace Packet.Actors;

/// <summary>
/// A <see cref="Connection"/> that receives lines instead of raw chunks: EventMachine's <c>LineText2</c>.
/// Override <see cref="ReceiveLine(string)"/> for text, or <see cref="ReceiveLine(ReadOnlySpan{byte})"/> for
/// a binary-safe protocol (Redis' RESP, SMTP's DATA); for length-announced bodies call
/// <see cref="SetBinaryMode"/> and override <see cref="ReceiveBinaryData"/>.
/// </summary>
/// <remarks>
/// Lines are delivered without their delimiter; with the default delimiter <c>"\n"</c> a trailing
/// <c>'\r'</c> is stripped too. A line longer than <c>packet.framing.max-line-length</c>
/// (<see cref="ConnectionLimits.MaxLineLength"/>) closes the connection with <see cref="UnbindKind.ProtocolError"/>.
/// </remarks>
public abstract class LineConnection : Connection
{
    private readonly byte[] _delimiter;
    private readonly Handler _handler;
    private LineFramer? _framer;

    /// <summary>Creates a line handler that splits on <paramref name="delimiter"/>.</summary>
    /// <param name="delimiter">The line delimiter, as UTF-8; <c>"\n"</c> unless given.</param>
    protected LineConnection(string delimiter = "\n")
    {
        ArgumentException.ThrowIfNullOrEmpty(delimiter);
        _delimiter = Encoding.UTF8.GetBytes(delimiter);
        _handler = new Handler(this);
    }

    private LineFramer Framer => _framer ??= new LineFramer(_delimiter, Reactor.Settings.MaxLineLength, Reactor.Settings.MaxBinaryLength);

    /// <summary>
    /// Called once per complete line, in order, without the delimiter, with its bytes as they came. By default
    /// it decodes them as UTF-8 (invalid bytes become U+FFFD) and calls <see cref="ReceiveLine(string)"/>;
    /// override it to take lines as bytes, without that decoding.
    /// </summary>
    /// <param name="line">The line's bytes; valid only during the call.</param>
    protected virtual void ReceiveLine(ReadOnlySpan<byte> line) => ReceiveLine(Encoding.UTF8.GetString(line));

    /// <summary>
    /// Called once per complete line, in order, without the delimiter, as text: what
    /// <see cref="ReceiveLine(ReadOnlySpan{byte})"/> calls unless it is overridden.
    /// </summary>
    /// <param name="line">The line's text.</param>
    protected virtual void ReceiveLine(string line) { }

    /// <summary>
    /// Called once with the block requested by <see cref="SetBinaryMode"/>; line mode resumes after it.
    /// The memory is valid only during the call.
    /// </summary>
    /// <param name="data">Exactly the requested number of bytes.</param>
    protected virtual void ReceiveBinaryData(ReadOnlyMemory<byte> data) { }

    /// <summary>
    /// Reads the next <paramref name="size"/> bytes as one binary block, delivered to
    /// <see cref="ReceiveBinaryData"/>. Call it from <see cref="ReceiveLine(ReadOnlySpan{byte})"/> (typically after a header
    /// that announces a length): it applies to the bytes right after that line.
    /// </summary>
    /// <param name="size">The block's length; at most <c>packet.framing.max-binary-length</c> (<see cref="ConnectionLimits.MaxBinaryLength"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative or above that limit.</exception>
    public void SetBinaryMode(int size) => Framer.SetBinaryMode(size);

    /// <summary>Sends <paramref name="line"/> followed by the delimiter.</summary>
    /// <param name="line">The text, without a delimiter.</param>
    /// <exception cref="ArgumentException"><paramref name="line"/> contains the delimiter: sent, it would be two lines.</exception>
    public void SendLine(string line)
    {
        // Encoded into a pooled buffer: SendData copies what it is given before it returns.
        var framed = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(line.Length) + _delimiter.Length);
        try
        {
            var length = Encoding.UTF8.GetBytes(line, framed);
            Send(framed, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(framed);
        }
    }

    /// <summary>Sends the bytes of <paramref name="line"/> as they are, followed by the delimiter.</summary>
    /// <param name="line">The line's bytes, without a delimiter.</param>
    /// <exception cref="ArgumentException"><paramref name="line"/> contains the delimiter: sent, it would be two lines.</exception>
    public void SendLine(ReadOnlySpan<byte> line)
    {
        var framed = ArrayPool<byte>.Shared.Rent(line.Length + _delimiter.Length);
        try
        {
            line.CopyTo(framed);
            Send(framed, line.Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(framed);
        }
    }

    /// <summary>Appends the delimiter to the line in the first <paramref name="length"/> bytes of <paramref name="framed"/>, and sends it.</summary>
    private void Send(byte[] framed, int length)
    {
        // A line that held the delimiter would reach the peer as two: a request smuggled into a reply.
        if (framed.AsSpan(0, length).IndexOf(_delimiter) >= 0)
            throw new ArgumentException($"a line sent by {GetType().Name} must not contain its delimiter", "line");
        _delimiter.CopyTo(framed, length);
        SendData(framed.AsSpan(0, length + _delimiter.Length));
    }

    /// <inheritdoc />
    protected sealed override void ReceiveData(ReadOnlyMemory<byte> data) => Framer.Decode(data.Span, _handler);

    /// <summary>Keeps the framer's callbacks off this class's public surface.</summary>
    private sealed class Handler(LineConnection owner) : ILineHandler
    {
        public void OnLine(ReadOnlySpan<byte> line) => owner.ReceiveLine(line);

        public void OnBinary(ReadOnlyMemory<byte> data) => owner.ReceiveBinaryData(data);
    }
}
