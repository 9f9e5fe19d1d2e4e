using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.Text;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Writes and reads the built-in payload types without Hyperion: the scalars of
/// <see cref="PayloadSerializer"/>'s allow-list, and arrays, <c>List</c>, <c>HashSet</c>, <c>Dictionary</c>
/// and <c>KeyValuePair</c> of them, nested at most <see cref="MaxDepth"/> deep.
/// </summary>
/// <remarks>
/// A value is its type's descriptor (a code, then the codes of its type arguments), then its data:
/// scalars little-endian at fixed sizes, strings as UTF-8 and collections each after a count. A count
/// or length is written plus one, so 0 means null. The reader checks every count against the bytes
/// left (each element takes at least one byte on the wire) before it allocates anything, so a forged
/// payload cannot make it allocate more than a small multiple of the payload's own size. The collection
/// types it makes are kept, at most <see cref="MaxTypes"/> of them: a peer cannot make the runtime load
/// new generic types without end either.
/// </remarks>
internal sealed class ValueCodec
{
    /// <summary>How deeply collections may nest.</summary>
    public const int MaxDepth = 8;

    /// <summary>How many distinct collection types one codec reads.</summary>
    public const int MaxTypes = 1024;

    private readonly Dictionary<(byte Code, Type First, Type? Second), Type> _types = [];

    private const byte ArrayCode = 32, ListCode = 33, HashSetCode = 34, DictionaryCode = 35, PairCode = 36;

    /// <summary>The scalars, by code (1-based), with their size on the wire; a string's is its shortest, one byte.</summary>
    private static readonly (Type Type, int Size)[] Scalars =
    [
        (typeof(bool), 1), (typeof(char), 2), (typeof(byte), 1), (typeof(sbyte), 1), (typeof(short), 2), (typeof(ushort), 2),
        (typeof(int), 4), (typeof(uint), 4), (typeof(long), 8), (typeof(ulong), 8), (typeof(float), 4), (typeof(double), 8),
        (typeof(decimal), 16), (typeof(DateTime), 8), (typeof(DateTimeOffset), 10), (typeof(TimeSpan), 8), (typeof(Guid), 16),
        (typeof(string), 1),
    ];

    /// <summary>Whether values of <paramref name="type"/> are written here rather than by Hyperion.</summary>
    public static bool Handles(Type type) => IsBuiltFrom(type, IsScalar, MaxDepth);

    /// <summary>One of the built-in scalar types (string included).</summary>
    public static bool IsScalar(Type type) => ScalarCode(type) > 0;

    /// <summary>
    /// Whether <paramref name="type"/> is a <paramref name="leaf"/> type, or a one-dimensional array,
    /// <c>List</c>, <c>HashSet</c>, <c>Dictionary</c> or <c>KeyValuePair</c> of such types, nested at most
    /// <paramref name="maxDepth"/> deep.
    /// </summary>
    public static bool IsBuiltFrom(Type type, Func<Type, bool> leaf, int maxDepth)
    {
        if (leaf(type)) return true;
        if (maxDepth == 0) return false;
        if (type.IsArray) return type.GetArrayRank() == 1 && IsBuiltFrom(type.GetElementType()!, leaf, maxDepth - 1);
        return type.IsGenericType && CollectionCode(type.GetGenericTypeDefinition()) > 0
            && type.GetGenericArguments().All(t => IsBuiltFrom(t, leaf, maxDepth - 1));
    }

    /// <summary>Writes <paramref name="value"/>, whose type <see cref="Handles"/>.</summary>
    public static void Write(IBufferWriter<byte> output, object value)
    {
        WriteType(output, value.GetType());
        WriteValue(output, value.GetType(), value, 0);
    }

    /// <summary>Reads one value that fills <paramref name="input"/> exactly; anything else throws <see cref="PayloadException"/>.</summary>
    public object? Read(ReadOnlySpan<byte> input)
    {
        var reader = new Reader(input, this);
        var type = reader.ReadType(0);
        var value = reader.ReadValue(type, 0);
        if (!reader.AtEnd) throw new PayloadException($"payload cannot be read: {reader.Left} bytes follow its value");
        return value;
    }

    private static readonly Dictionary<Type, int> Codes = Scalars.Select((scalar, i) => (scalar.Type, Code: i + 1)).ToDictionary(p => p.Type, p => p.Code);

    private static int ScalarCode(Type type) => Codes.GetValueOrDefault(type);

    private static byte CollectionCode(Type definition) =>
        definition == typeof(List<>) ? ListCode
        : definition == typeof(HashSet<>) ? HashSetCode
        : definition == typeof(Dictionary<,>) ? DictionaryCode
        : definition == typeof(KeyValuePair<,>) ? PairCode
        : (byte)0;

    private static void WriteType(IBufferWriter<byte> output, Type type)
    {
        if (ScalarCode(type) is > 0 and var code)
        {
            WriteByte(output, (byte)code);
            return;
        }
        if (type.IsArray)
        {
            WriteByte(output, ArrayCode);
            WriteType(output, type.GetElementType()!);
            return;
        }
        WriteByte(output, CollectionCode(type.GetGenericTypeDefinition()));
        foreach (var argument in type.GetGenericArguments()) WriteType(output, argument);
    }

    private static void WriteValue(IBufferWriter<byte> output, Type type, object? value, int depth)
    {
        if (depth > MaxDepth) throw new PayloadException($"payload nests deeper than {MaxDepth} collections");
        switch (value)
        {
            case bool v: WriteByte(output, v ? (byte)1 : (byte)0); return;
            case char v: BinaryPrimitives.WriteUInt16LittleEndian(output.GetSpan(2), v); output.Advance(2); return;
            case byte v: WriteByte(output, v); return;
            case sbyte v: WriteByte(output, (byte)v); return;
            case short v: BinaryPrimitives.WriteInt16LittleEndian(output.GetSpan(2), v); output.Advance(2); return;
            case ushort v: BinaryPrimitives.WriteUInt16LittleEndian(output.GetSpan(2), v); output.Advance(2); return;
            case int v: BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), v); output.Advance(4); return;
            case uint v: BinaryPrimitives.WriteUInt32LittleEndian(output.GetSpan(4), v); output.Advance(4); return;
            case long v: WriteInt64(output, v); return;
            case ulong v: BinaryPrimitives.WriteUInt64LittleEndian(output.GetSpan(8), v); output.Advance(8); return;
            case float v: BinaryPrimitives.WriteSingleLittleEndian(output.GetSpan(4), v); output.Advance(4); return;
            case double v: BinaryPrimitives.WriteDoubleLittleEndian(output.GetSpan(8), v); output.Advance(8); return;
            case decimal v:
                foreach (var part in decimal.GetBits(v)) { BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), part); output.Advance(4); }
                return;
            case DateTime v: WriteInt64(output, v.ToBinary()); return;
            case DateTimeOffset v:
                WriteInt64(output, v.Ticks);
                BinaryPrimitives.WriteInt16LittleEndian(output.GetSpan(2), (short)v.Offset.TotalMinutes);
                output.Advance(2);
                return;
            case TimeSpan v: WriteInt64(output, v.Ticks); return;
            case Guid v: v.TryWriteBytes(output.GetSpan(16)); output.Advance(16); return;
        }
        if (type == typeof(string))
        {
            if (value is not string text)
            {
                WriteCount(output, null);
                return;
            }
            WriteCount(output, Encoding.UTF8.GetByteCount(text));
            output.Advance(Encoding.UTF8.GetBytes(text, output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length))));
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            var arguments = type.GetGenericArguments();
            WriteValue(output, arguments[0], type.GetProperty("Key")!.GetValue(value), depth + 1);
            WriteValue(output, arguments[1], type.GetProperty("Value")!.GetValue(value), depth + 1);
            return;
        }
        if (value is not IEnumerable items)
        {
            WriteCount(output, null);
            return;
        }
        WriteCount(output, items is ICollection collection ? collection.Count : items.Cast<object?>().Count());
        if (value is IDictionary dictionary)
        {
            var arguments = type.GetGenericArguments();
            foreach (DictionaryEntry entry in dictionary)
            {
                WriteValue(output, arguments[0], entry.Key, depth + 1);
                WriteValue(output, arguments[1], entry.Value, depth + 1);
            }
            return;
        }
        var element = type.IsArray ? type.GetElementType()! : type.GetGenericArguments()[0];
        foreach (var item in items) WriteValue(output, element, item, depth + 1);
    }

    private static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void WriteInt64(IBufferWriter<byte> output, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    /// <summary>A count or length plus one (0 for null), 7 bits a byte.</summary>
    private static void WriteCount(IBufferWriter<byte> output, int? count)
    {
        var value = (uint)(count + 1 ?? 0);
        do
        {
            var next = value >> 7;
            WriteByte(output, (byte)((value & 0x7Fu) | (next == 0 ? 0u : 0x80u)));
            value = next;
        }
        while (value != 0);
    }

    /// <summary>The collection type of <paramref name="code"/> over the given type arguments, made once.</summary>
    private Type Constructed(byte code, Type first, Type? second)
    {
        lock (_types)
        {
            if (_types.TryGetValue((code, first, second), out var known)) return known;
            if (_types.Count >= MaxTypes) throw new PayloadException($"payload cannot be read: it would make more than {MaxTypes} distinct collection types");
            var type = code switch
            {
                ArrayCode => first.MakeArrayType(),
                ListCode => typeof(List<>).MakeGenericType(first),
                HashSetCode => typeof(HashSet<>).MakeGenericType(first),
                DictionaryCode => typeof(Dictionary<,>).MakeGenericType(first, second!),
                _ => typeof(KeyValuePair<,>).MakeGenericType(first, second!),
            };
            _types.Add((code, first, second), type);
            return type;
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes, ValueCodec codec)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public readonly bool AtEnd => _at == _bytes.Length;

        public readonly int Left => _bytes.Length - _at;

        public Type ReadType(int depth)
        {
            if (depth > MaxDepth) throw Bad($"its type nests deeper than {MaxDepth} collections");
            var code = Take(1)[0];
            if (code >= 1 && code <= Scalars.Length) return Scalars[code - 1].Type;
            if (code is < ArrayCode or > PairCode) throw Bad($"type code {code} is unknown");
            var first = ReadType(depth + 1);
            var second = code is DictionaryCode or PairCode ? ReadType(depth + 1) : null;
            return codec.Constructed(code, first, second);
        }

        public object? ReadValue(Type type, int depth)
        {
            if (ScalarCode(type) is > 0 and var code && type != typeof(string)) return ReadScalar(code);
            if (type == typeof(string)) return ReadCount(1) is { } length ? Encoding.UTF8.GetString(Take(length)) : null;
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
            {
                var arguments = type.GetGenericArguments();
                return Activator.CreateInstance(type, ReadValue(arguments[0], depth + 1), ReadValue(arguments[1], depth + 1));
            }
            if (type.IsArray)
            {
                var element = type.GetElementType()!;
                if (ReadCount(MinimumSize(element)) is not { } length) return null;
                var array = Array.CreateInstance(element, length);
                for (var i = 0; i < length; i++) array.SetValue(ReadValue(element, depth + 1), i);
                return array;
            }
            var typeArguments = type.GetGenericArguments();
            var definition = type.GetGenericTypeDefinition();
            if (ReadCount(typeArguments.Sum(MinimumSize)) is not { } count) return null;
            var collection = Activator.CreateInstance(type)!;
            if (definition == typeof(Dictionary<,>))
            {
                var dictionary = (IDictionary)collection;
                for (var i = 0; i < count; i++)
                {
                    var key = ReadValue(typeArguments[0], depth + 1) ?? throw Bad("a dictionary key is null");
                    if (dictionary.Contains(key)) throw Bad("a dictionary key comes twice");
                    dictionary.Add(key, ReadValue(typeArguments[1], depth + 1));
                }
            }
            else if (definition == typeof(List<>))
            {
                var list = (IList)collection;
                for (var i = 0; i < count; i++) list.Add(ReadValue(typeArguments[0], depth + 1));
            }
            else
            {
                var add = type.GetMethod("Add")!;
                for (var i = 0; i < count; i++) add.Invoke(collection, [ReadValue(typeArguments[0], depth + 1)]);
            }
            return collection;
        }

        private object ReadScalar(int code) => code switch
        {
            1 => Take(1)[0] switch { 0 => false, 1 => true, var b => throw Bad($"{b} is not a bool") },
            2 => (char)BinaryPrimitives.ReadUInt16LittleEndian(Take(2)),
            3 => Take(1)[0],
            4 => (sbyte)Take(1)[0],
            5 => BinaryPrimitives.ReadInt16LittleEndian(Take(2)),
            6 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2)),
            7 => BinaryPrimitives.ReadInt32LittleEndian(Take(4)),
            8 => BinaryPrimitives.ReadUInt32LittleEndian(Take(4)),
            9 => BinaryPrimitives.ReadInt64LittleEndian(Take(8)),
            10 => BinaryPrimitives.ReadUInt64LittleEndian(Take(8)),
            11 => BinaryPrimitives.ReadSingleLittleEndian(Take(4)),
            12 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8)),
            13 => ReadDecimal(),
            14 => DateTime.FromBinary(BinaryPrimitives.ReadInt64LittleEndian(Take(8))),
            15 => ReadDateTimeOffset(),
            16 => new TimeSpan(BinaryPrimitives.ReadInt64LittleEndian(Take(8))),
            _ => new Guid(Take(16)),
        };

        private decimal ReadDecimal()
        {
            var bits = Take(16);
            try
            {
                return new decimal([
                    BinaryPrimitives.ReadInt32LittleEndian(bits), BinaryPrimitives.ReadInt32LittleEndian(bits[4..]),
                    BinaryPrimitives.ReadInt32LittleEndian(bits[8..]), BinaryPrimitives.ReadInt32LittleEndian(bits[12..])]);
            }
            catch (ArgumentException)
            {
                throw Bad("a decimal's bits are invalid");
            }
        }

        private DateTimeOffset ReadDateTimeOffset()
        {
            var ticks = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
            var minutes = BinaryPrimitives.ReadInt16LittleEndian(Take(2));
            try
            {
                return new DateTimeOffset(ticks, TimeSpan.FromMinutes(minutes));
            }
            catch (ArgumentException)
            {
                throw Bad("a DateTimeOffset is out of range");
            }
        }

        /// <summary>A count written plus one; null for 0. Refused if that many items of <paramref name="minimumSize"/> bytes cannot fit in what is left.</summary>
        private int? ReadCount(int minimumSize)
        {
            uint value = 0;
            for (var shift = 0; ; shift += 7)
            {
                if (shift > 28) throw Bad("a count is malformed");
                var b = Take(1)[0];
                value |= (uint)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) break;
            }
            if (value == 0) return null;
            var count = value - 1;
            if (count > (uint)(Left / minimumSize)) throw Bad($"a count of {count} does not fit in the {Left} bytes left");
            return (int)count;
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > Left) throw Bad($"it ends {count - Left} bytes early");
            var taken = _bytes.Slice(_at, count);
            _at += count;
            return taken;
        }

        private static int MinimumSize(Type type) =>
            ScalarCode(type) is > 0 and var code ? Scalars[code - 1].Size
            : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>) ? type.GetGenericArguments().Sum(MinimumSize)
            : 1;

        private static PayloadException Bad(string why) => new($"payload cannot be read: {why}");
    }
}
