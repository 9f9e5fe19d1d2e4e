using System.Threading.Channels;
using Packet.Actors;

namespace Packet.Tests.Support;

/// <summary>A handler that records its hooks and data, and optionally echoes; tests await what it saw.</summary>
public class Recorder : Connection
{
    private readonly Lock _gate = new();
    private readonly List<string> _events = [];
    private readonly MemoryStream _received = new();
    private readonly TaskCompletionSource<UnbindReason> _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _unbindCount;

    /// <summary>Echo every chunk back.</summary>
    public bool Echo { get; init; }

    /// <summary>Extra behaviour run inside ReceiveData, on the connection's actor.</summary>
    public Action<Recorder, ReadOnlyMemory<byte>>? OnData { get; init; }

    /// <summary>Extra behaviour run inside PostInit.</summary>
    public Action<Recorder>? OnPostInit { get; init; }

    public Task<UnbindReason> Unbound => _unbound.Task;

    public Task Completed => _completed.Task;

    public int UnbindCount => Volatile.Read(ref _unbindCount);

    /// <summary>Hook names in call order, consecutive ReceiveData calls folded into one.</summary>
    public IReadOnlyList<string> Events
    {
        get { lock (_gate) return _events.ToArray(); }
    }

    public byte[] Received
    {
        get { lock (_gate) return _received.ToArray(); }
    }

    public long ReceivedCount
    {
        get { lock (_gate) return _received.Length; }
    }

    public void Record(string name)
    {
        lock (_gate)
            if (name != "ReceiveData" || _events.LastOrDefault() != name)
                _events.Add(name);
    }

    public Task ReceivedAtLeast(long count, string? what = null) =>
        Bounded.Until(() => ReceivedCount >= count, what ?? $"{count} bytes to arrive at {GetType().Name}");

    protected override void PostInit()
    {
        Record("PostInit");
        OnPostInit?.Invoke(this);
    }

    protected override void ConnectionCompleted()
    {
        Record("ConnectionCompleted");
        _completed.TrySetResult();
    }

    protected override void ReceiveData(ReadOnlyMemory<byte> data)
    {
        Record("ReceiveData");
        lock (_gate) _received.Write(data.Span);
        if (Echo) SendData(data.Span);
        OnData?.Invoke(this, data);
    }

    protected override void Unbind(UnbindReason reason)
    {
        Record($"Unbind:{reason.Kind}");
        Interlocked.Increment(ref _unbindCount);
        _unbound.TrySetResult(reason);
    }
}

/// <summary>Collects the handlers a server makes, so a test can await the one for its client.</summary>
public sealed class Accepted<T> where T : Connection
{
    private readonly Channel<T> _made = Channel.CreateUnbounded<T>();

    public Func<Connection> Factory(Func<T> make) => () =>
    {
        var handler = make();
        _made.Writer.TryWrite(handler);
        return handler;
    };

    public Task<T> Next() => _made.Reader.ReadAsync().AsTask().Within("the server to accept a connection");
}
