namespace Packet.Io.Framing;

/// <summary>
/// Thrown by a decoder (<see cref="BinParser"/>, <see cref="LengthPrefixedFramer"/>,
/// <see cref="LineFramer"/>) when the bytes from the peer break the framing rules: a malformed
/// header, a frame longer than the decoder's limit, or a line longer than its limit without a
/// delimiter. The message names the offending bytes or numbers.
/// </summary>
/// <remarks>
/// The stream cannot be resynchronised after this: the decoder that threw is poisoned, and every
/// later <c>Decode</c> call on it throws a <see cref="FramingException"/> saying the stream is
/// desynchronised (with the original failure as <see cref="Exception.InnerException"/>). The
/// caller's only correct reaction is to close the connection.
/// </remarks>
public sealed class FramingException : Exception
{
    /// <summary>
    /// Creates the exception a decoder throws when the peer's bytes break the framing rules.
    /// </summary>
    /// <param name="message">What was wrong, naming the offending bytes or lengths.</param>
    public FramingException(string message)
        : base(message)
    {
    }

    /// <summary>
    /// Creates the exception a poisoned decoder throws on every call after an earlier failure.
    /// </summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="innerException">The failure that desynchronised the stream.</param>
    public FramingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
