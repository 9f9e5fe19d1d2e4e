namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Jobs or outcomes gathered to cross the master ↔ WorkerHost link in one message: Akka.Remote's cost
/// is per message, so what is ready together travels together. A batch holds at most
/// <c>packet.workers.max-payload</c> bytes of payloads, so a batch never needs a larger remote frame than
/// one payload does.
/// </summary>
/// <typeparam name="T">A <see cref="WorkerProtocol.Job"/> or a <see cref="WorkerProtocol.Outcome"/>.</typeparam>
internal sealed class Batch<T>(int maxBytes, Func<T, int> size)
{
    private readonly List<T> _items = [];
    private int _bytes;

    public bool IsEmpty => _items.Count == 0;

    /// <summary>
    /// Adds <paramref name="item"/>. Returns the batch gathered so far when the item does not fit beside
    /// it: send that first. The item then starts the next batch.
    /// </summary>
    public T[]? Add(T item)
    {
        var itemBytes = size(item);
        var full = _items.Count > 0 && (long)_bytes + itemBytes > maxBytes ? Take() : null;
        _items.Add(item);
        _bytes += itemBytes;
        return full;
    }

    /// <summary>Empties the batch and returns what it held.</summary>
    public T[] Take()
    {
        var items = _items.ToArray();
        _items.Clear();
        _bytes = 0;
        return items;
    }
}
