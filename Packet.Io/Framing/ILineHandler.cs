namespace Packet.Io.Framing;

/// <summary>
/// Receives what <see cref="LineFramer.Decode"/> cuts out of the byte stream: lines in line mode,
/// and one block per <see cref="LineFramer.SetBinaryMode"/> call in binary mode. This is
/// EventMachine's LineText2 <c>receive_line</c> / <c>receive_binary_data</c> pair.
/// </summary>
/// <remarks>
/// Both methods are called only from inside <see cref="LineFramer.Decode"/>, synchronously, in
/// stream order, on the caller's thread. The span or memory they receive may point into the chunk
/// being decoded or into the framer's reusable buffer, so it is valid only during the call: copy
/// it to keep it. Either method may call <see cref="LineFramer.SetBinaryMode"/>; it takes effect
/// for the very next byte, including the rest of the chunk being decoded. An exception thrown
/// here propagates out of <see cref="LineFramer.Decode"/> and poisons the framer.
/// </remarks>
public interface ILineHandler
{
    /// <summary>
    /// Called once per complete line in line mode, with the line's bytes without the delimiter
    /// (and, when the delimiter is exactly <c>"\n"</c>, without one trailing <c>'\r'</c>). The line
    /// may be empty. Its length never exceeds <see cref="LineFramer.MaxLineLength"/>.
    /// </summary>
    /// <param name="line">The line; valid only during this call.</param>
    void OnLine(ReadOnlySpan<byte> line);

    /// <summary>
    /// Called once per <see cref="LineFramer.SetBinaryMode"/> call, with exactly the requested
    /// number of bytes, however the block was split across chunks. The framer is back in line mode
    /// when this is called, so calling <see cref="LineFramer.SetBinaryMode"/> from here requests
    /// the next block, back to back.
    /// </summary>
    /// <param name="data">The block (empty for <c>SetBinaryMode(0)</c>); valid only during this call.</param>
    void OnBinary(ReadOnlyMemory<byte> data);
}
