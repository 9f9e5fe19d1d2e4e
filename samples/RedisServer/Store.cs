using System.Buffers.Text;
using System.Collections.Concurrent;

namespace RedisServer;

/// <summary>
/// The keyspace every connection shares: binary keys and values, read without a lock and written under one, so the
/// memory they take is counted exactly and held under the bound the server was started with (Redis' maxmemory).
/// </summary>
sealed class Store(long maxBytes)
{
    /// <summary>What an entry costs beyond its key and value, counted against the bound: the dictionary's node and the arrays' headers.</summary>
    private const int EntryOverhead = 80;

    private readonly ConcurrentDictionary<byte[], byte[]> _entries = new(KeyComparer.Instance);
    private readonly Lock _writing = new();
    private long _bytes;

    /// <summary>The bytes the entries take, as counted against the bound.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    public byte[]? Get(byte[] key) => _entries.TryGetValue(key, out var value) ? value : null;

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/>; false, changing nothing, when that would pass the bound.</summary>
    public bool Set(byte[] key, byte[] value)
    {
        lock (_writing)
        {
            var growth = _entries.TryGetValue(key, out var old) ? value.Length - old.Length : key.Length + value.Length + EntryOverhead;
            if (growth > 0 && _bytes + growth > maxBytes) return false;
            _entries[key] = value;
            _bytes += growth;
            return true;
        }
    }

    /// <summary>Adds one to the integer at <paramref name="key"/> (0 when missing): its new value, or the error to answer with.</summary>
    public (long Value, string? Error) Increment(byte[] key)
    {
        lock (_writing)
        {
            long value = 0;
            if (_entries.TryGetValue(key, out var old) && (!Utf8Parser.TryParse(old, out value, out var used) || used != old.Length))
                return (0, "ERR value is not an integer or out of range");
            if (value == long.MaxValue) return (0, "ERR increment or decrement would overflow");
            Span<byte> text = stackalloc byte[20];
            Utf8Formatter.TryFormat(value + 1, text, out var length);
            return Set(key, text[..length].ToArray()) ? (value + 1, null) : (0, Resp.OutOfMemory);
        }
    }

    /// <summary>Removes <paramref name="key"/>; whether it was there.</summary>
    public bool Delete(byte[] key)
    {
        lock (_writing)
        {
            if (!_entries.TryRemove(key, out var old)) return false;
            _bytes -= key.Length + old.Length + EntryOverhead;
            return true;
        }
    }

    /// <summary>Keys compared by content, hashed with the process's random seed, so a client cannot pick keys that collide.</summary>
    private sealed class KeyComparer : IEqualityComparer<byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
