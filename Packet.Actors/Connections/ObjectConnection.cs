using System.Text.Json;
using Packet.Io.Framing;

namespace Packet.Actors;

/// <summary>
/// A length-prefixed object protocol (EventMachine's <c>ObjectProtocol</c>): each frame carries one
/// <typeparamref name="T"/> as JSON. Override <see cref="ReceiveObject"/>; send with <see cref="SendObject"/>.
/// </summary>
/// <remarks>
/// JSON through System.Text.Json names no types on the wire, so a peer cannot make this side
/// instantiate anything but <typeparamref name="T"/> and its members. A frame that is not a valid
/// <typeparamref name="T"/> closes the connection with <see cref="UnbindKind.ProtocolError"/>.
/// </remarks>
/// <typeparam name="T">The message type.</typeparam>
public abstract class ObjectConnection<T> : FramedConnection
{
    private readonly JsonSerializerOptions _options;

    /// <summary>Creates an object handler.</summary>
    /// <param name="options">JSON options; <see cref="JsonSerializerOptions.Default"/> unless given.</param>
    protected ObjectConnection(JsonSerializerOptions? options = null) => _options = options ?? JsonSerializerOptions.Default;

    /// <summary>Called once per received object, in order.</summary>
    /// <param name="value">The object; never <see langword="null"/>.</param>
    protected abstract void ReceiveObject(T value);

    /// <summary>Sends <paramref name="value"/> as one frame.</summary>
    /// <param name="value">The object.</param>
    public void SendObject(T value) => SendFrame(JsonSerializer.SerializeToUtf8Bytes(value, _options));

    /// <inheritdoc />
    protected sealed override void ReceiveFrame(ReadOnlyMemory<byte> frame)
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize<T>(frame.Span, _options);
        }
        catch (JsonException e)
        {
            throw new FramingException($"a frame is not a valid {typeof(T).Name}: {e.Message}", e);
        }
        ReceiveObject(value ?? throw new FramingException($"a frame holds null where a {typeof(T).Name} was expected"));
    }
}
