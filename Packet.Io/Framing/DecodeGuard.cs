namespace Packet.Io.Framing;

/// <summary>
/// The poison and reentrancy state shared by every decoder. A decoder calls <see cref="Enter"/>
/// before touching its state, <see cref="Fail"/> when any exception leaves its decode loop, and
/// <see cref="Leave"/> in a <c>finally</c>. Once failed, it refuses every later call: part of a
/// chunk was not consumed, so the decoder no longer knows where the next frame starts.
/// </summary>
internal sealed class DecodeGuard(string decoderName)
{
    private Exception? _failure;
    private bool _decoding;

    /// <summary>Throws if the stream is desynchronised or a Decode call is already running.</summary>
    public void Enter()
    {
        if (_failure is not null)
        {
            throw new FramingException(
                $"{decoderName} stream is desynchronised by an earlier failure and must be closed " +
                $"({_failure.GetType().Name}: {_failure.Message})",
                _failure);
        }

        if (_decoding)
        {
            throw new InvalidOperationException(
                $"{decoderName}.Decode was called from inside one of its own callbacks; Decode is not reentrant");
        }

        _decoding = true;
    }

    /// <summary>Poisons the decoder; the first failure is the one reported afterwards.</summary>
    public void Fail(Exception cause) => _failure ??= cause;

    /// <summary>Ends the current Decode call.</summary>
    public void Leave() => _decoding = false;
}
