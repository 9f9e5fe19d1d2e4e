using Hyperion;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Turns worker payloads into bytes and back with Hyperion, allowing only simple built-in types and
/// the types listed in <c>packet.workers.allowed-types</c>. Both the master and the WorkerHost use it,
/// so a payload that one side may send the other side may read.
/// </summary>
/// <remarks>
/// Payloads travel as byte arrays inside the protocol messages: the size limit is checked before
/// anything is sent, and a type that is not allowed fails at the asker with a clear message instead
/// of deep inside Akka.Remote.
/// </remarks>
internal sealed class PayloadSerializer
{
    private static readonly HashSet<Type> BuiltIn =
    [
        typeof(string), typeof(bool), typeof(char), typeof(byte), typeof(sbyte), typeof(short), typeof(ushort),
        typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(decimal),
        typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan), typeof(Guid),
    ];

    private static readonly HashSet<Type> Collections =
    [
        typeof(List<>), typeof(Dictionary<,>), typeof(HashSet<>), typeof(KeyValuePair<,>),
    ];

    private readonly HashSet<Type> _allowed;
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

    /// <summary>Serializes <paramref name="payload"/>, or throws <see cref="PayloadException"/> saying why it cannot travel.</summary>
    public byte[] Serialize(object? payload)
    {
        if (payload is null) return []; // Hyperion cannot write null at the top level; empty bytes mean null
        if (!IsAllowed(payload.GetType()))
            throw new PayloadException($"payload type {payload.GetType().FullName} is not allowed; add it to packet.workers.allowed-types");
        using var stream = new MemoryStream();
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

    /// <summary>Reads a payload; a type outside the allow-list throws <see cref="PayloadException"/>.</summary>
    public object? Deserialize(byte[] bytes)
    {
        if (bytes.Length == 0) return null;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            return _hyperion.Deserialize(stream);
        }
        catch (Exception e) when (e is not PayloadException)
        {
            throw new PayloadException($"payload cannot be read: {e.Message}", e);
        }
    }

    public bool IsAllowed(Type type)
    {
        if (BuiltIn.Contains(type) || _allowed.Contains(type)) return true;
        if (type.IsArray) return type.GetArrayRank() == 1 && IsAllowed(type.GetElementType()!);
        if (type.IsGenericType && Collections.Contains(type.GetGenericTypeDefinition()))
            return type.GetGenericArguments().All(IsAllowed);
        return false;
    }

    /// <summary>Hyperion asks by type name when it reads a type from the wire.</summary>
    private sealed class NameFilter(PayloadSerializer owner) : ITypeFilter
    {
        public bool IsAllowed(string typeName)
        {
            var type = Type.GetType(typeName, throwOnError: false);
            return type is not null && owner.IsAllowed(type);
        }
    }
}

/// <summary>A payload that cannot travel to or from a worker: type not allowed, too large, or unreadable.</summary>
internal sealed class PayloadException(string message, Exception? inner = null) : Exception(message, inner);
