namespace Packet.Io.Framing;

/// <summary>
/// A byte-frame protocol: cuts the byte stream of one connection into frames on the way in, and
/// wraps each outgoing payload into a frame on the way out. Implemented by
/// <see cref="BinParser"/> (Packet's 9-digit ASCII length) and <see cref="LengthPrefixedFramer"/>
/// (4-byte big-endian length).
/// </summary>
/// <remarks>
/// One instance per connection, used by the single actor that owns the connection: an instance
/// keeps the partial frame between chunks and is not thread-safe. Memory held by an instance is
/// bounded by <see cref="MaxFrameLength"/> plus the header, and grows with the bytes of a frame
/// received, never ahead of them to the length its header announces.
/// </remarks>
public interface IFrameDecoder
{
    /// <summary>
    /// The largest payload, in bytes, that <see cref="Decode"/> accepts from the peer and
    /// <see cref="Encode"/> accepts from the caller. Fixed at construction.
    /// </summary>
    int MaxFrameLength { get; }

    /// <summary>
    /// Called by the connection owner with each chunk exactly as it arrived from the socket (any
    /// size, split anywhere, including inside a header). Calls <paramref name="onFrame"/> once per
    /// complete frame, in stream order, before returning; keeps any partial frame for the next
    /// call.
    /// </summary>
    /// <param name="chunk">The bytes just read. Not retained after the call returns.</param>
    /// <param name="onFrame">
    /// Receives each payload (header removed). The memory points into the decoder's reusable
    /// buffer and is valid only during that call: copy it to keep it.
    /// </param>
    /// <exception cref="FramingException">
    /// The peer sent a malformed header or announced a frame above <see cref="MaxFrameLength"/>.
    /// Raised as soon as the header is complete (or, for a malformed header, as soon as the bad
    /// byte arrives), without buffering the body. Frames completed earlier in the same chunk have
    /// already been delivered.
    /// </exception>
    /// <remarks>
    /// Any exception leaving <c>Decode</c>, including one thrown by <paramref name="onFrame"/>,
    /// poisons the decoder, because the rest of the chunk was not consumed: every later call
    /// throws a <see cref="FramingException"/> saying the stream is desynchronised and must be
    /// closed. <c>Decode</c> must not be called from inside <paramref name="onFrame"/>.
    /// </remarks>
    void Decode(ReadOnlySpan<byte> chunk, Action<ReadOnlyMemory<byte>> onFrame);

    /// <summary>
    /// Called by the connection owner for each outgoing payload: returns a new array holding the
    /// complete frame (header then payload), ready to be written to the socket as it is. Does not
    /// depend on or change the decoding state, so it may be used on a poisoned decoder.
    /// </summary>
    /// <param name="payload">The payload; copied, not retained.</param>
    /// <returns>A new array owned by the caller.</returns>
    /// <exception cref="ArgumentException">
    /// <paramref name="payload"/> is longer than <see cref="MaxFrameLength"/>.
    /// </exception>
    byte[] Encode(ReadOnlySpan<byte> payload);
}
