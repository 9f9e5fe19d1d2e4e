using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Hyperion;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Turns worker payloads into bytes and back, allowing only simple built-in types and the types listed
/// in <c>packet.workers.allowed-types</c>. Both the master and the WorkerHost use it, so a payload that
/// one side may send the other side may read.
/// </summary>
/// <remarks>
/// The first byte says how the rest is written: strings as UTF-8 and byte arrays as they are, the most
/// common payloads of a line or binary protocol, with no copy beyond the one into the payload; the
/// other built-in types, and collections of them, by <see cref="ValueCodec"/>, which checks every length
/// against the bytes it has; the types of <c>packet.workers.allowed-types</c> (and values holding them)
/// with Hyperion. Hyperion trusts the lengths inside its bytes, so a Hyperion payload is read only when
/// <c>allowed-types</c> names a type: by default no peer can make a reader allocate beyond the payload's
/// size. No bytes at all mean <see langword="null"/>.
/// </remarks>
internal sealed class PayloadSerializer
{
    private const byte TextTag = 1;
    private const byte BytesTag = 2;
    private const byte HyperionTag = 3;
    private const byte ValueTag = 4;

    private readonly HashSet<Type> _allowed;
    private readonly ValueCodec _values = new();
    private readonly Serializer _hyperion;

    public PayloadSerializer(IEnumerable<Type> allowed, int maxPayload)
    {
        _allowed = [.. allowed];
        MaxPayload = maxPayload;
        var filter = new NameFilter(this);
        _hyperion = new Serializer(SerializerOptions.Default
            .WithDisallowUnsafeType(true)
            .WithTypeFilter(filter)
            .WithVersionTolerance(false)
            .WithPreserveObjectReferences(false));
    }

    public int MaxPayload { get; }

    /// <summary>
    /// Serializes <paramref name="payload"/>, or throws <see cref="PayloadException"/> saying why it cannot
    /// travel. The size limit is checked here, before anything is sent, so an oversized or disallowed
    /// payload fails at the asker with a clear message instead of deep inside Akka.Remote.
    /// </summary>
    public byte[] Serialize(object? payload)
    {
        switch (payload)
        {
            case null:
                return [];
            case string text:
                var encoded = Tagged(TextTag, Encoding.UTF8.GetByteCount(text));
                Encoding.UTF8.GetBytes(text, encoded.AsSpan(1));
                return encoded;
            case byte[] raw:
                var copy = Tagged(BytesTag, raw.Length);
                raw.CopyTo(copy, 1);
                return copy;
        }
        if (ValueCodec.Handles(payload.GetType())) return WriteValue(payload);
        if (!IsAllowed(payload.GetType()))
            throw new PayloadException($"payload type {payload.GetType().FullName} is not allowed; add it to packet.workers.allowed-types");
        if (_allowed.Count == 0)
            throw new PayloadException($"payload type {payload.GetType().FullName} nests built-in collections deeper than {ValueCodec.MaxDepth}");
        using var stream = new MemoryStream();
        stream.WriteByte(HyperionTag);
        try
        {
            _hyperion.Serialize(payload, stream);
        }
        catch (Exception e) when (e is not PayloadException)
        {
            throw new PayloadException($"payload of type {payload.GetType().FullName} cannot be serialized: {e.Message}", e);
        }
        if (stream.Length > MaxPayload)
            throw new PayloadException($"payload of {stream.Length} bytes exceeds packet.workers.max-payload ({MaxPayload} bytes)");
        return stream.ToArray();
    }

    /// <summary>Reads a payload; a type outside the allow-list, or bytes that do not read, throw <see cref="PayloadException"/>.</summary>
    public object? Deserialize(ReadOnlyMemory<byte> payload)
    {
        if (payload.IsEmpty) return null;
        var bytes = payload.Span;
        switch (bytes[0])
        {
            case TextTag:
                return Encoding.UTF8.GetString(bytes[1..]);
            case BytesTag:
                var copy = GC.AllocateUninitializedArray<byte>(bytes.Length - 1); // every byte is written next
                bytes[1..].CopyTo(copy);
                return copy;
            case ValueTag:
                try
                {
                    return _values.Read(bytes[1..]);
                }
                catch (Exception e) when (e is not PayloadException)
                {
                    throw new PayloadException($"payload cannot be read: {e.Message}", e);
                }
            case HyperionTag when _allowed.Count == 0:
                throw new PayloadException("payload cannot be read: it is Hyperion-encoded, which is read only when packet.workers.allowed-types names a type");
            case HyperionTag:
                try
                {
                    using var stream = Stream(payload[1..]);
                    return _hyperion.Deserialize(stream);
                }
                catch (Exception e) when (e is not PayloadException)
                {
                    throw new PayloadException($"payload cannot be read: {e.Message}", e);
                }
            default:
                throw new PayloadException($"payload cannot be read: its first byte ({bytes[0]}) names no encoding");
        }
    }

    private byte[] WriteValue(object payload)
    {
        var output = new ArrayBufferWriter<byte>();
        output.GetSpan(1)[0] = ValueTag;
        output.Advance(1);
        ValueCodec.Write(output, payload);
        if (output.WrittenCount > MaxPayload)
            throw new PayloadException($"payload of {output.WrittenCount} bytes exceeds packet.workers.max-payload ({MaxPayload} bytes)");
        return output.WrittenSpan.ToArray();
    }

    private static MemoryStream Stream(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);

    /// <summary>An array for a payload of <paramref name="length"/> bytes after its tag, once the size limit allows it.</summary>
    private byte[] Tagged(byte tag, int length)
    {
        if (length + 1 > MaxPayload)
            throw new PayloadException($"payload of {length + 1} bytes exceeds packet.workers.max-payload ({MaxPayload} bytes)");
        var bytes = GC.AllocateUninitializedArray<byte>(length + 1); // the caller writes every byte after the tag
        bytes[0] = tag;
        return bytes;
    }

    /// <summary>Built-in scalars, the allowed types, and the collections <see cref="ValueCodec"/> knows of them, nested to any depth.</summary>
    public bool IsAllowed(Type type) => ValueCodec.IsBuiltFrom(type, t => ValueCodec.IsScalar(t) || _allowed.Contains(t), int.MaxValue);

    /// <summary>
    /// Hyperion asks by type name when it reads a type from the wire. It marks core-library assembly
    /// names with a <c>,%core%</c> suffix (<c>List`1[[System.String, System.Private.CoreLib,%core%]], ...</c>),
    /// which is dropped before the name is looked up; a name that does not load is refused. A dictionary
    /// travels as <see cref="System.Collections.DictionaryEntry"/> items, whose keys and values are
    /// filtered in their turn.
    /// </summary>
    private sealed class NameFilter(PayloadSerializer owner) : ITypeFilter
    {
        public bool IsAllowed(string typeName)
        {
            try
            {
                var type = Type.GetType(typeName.Replace(",%core%", "", StringComparison.Ordinal), throwOnError: false);
                return type is not null && (type == typeof(System.Collections.DictionaryEntry) || owner.IsAllowed(type));
            }
            catch (Exception e) when (e is FileLoadException or ArgumentException or BadImageFormatException)
            {
                return false;
            }
        }
    }
}

/// <summary>A payload that cannot travel to or from a worker: type not allowed, too large, or unreadable.</summary>
internal sealed class PayloadException(string message, Exception? inner = null) : Exception(message, inner);
