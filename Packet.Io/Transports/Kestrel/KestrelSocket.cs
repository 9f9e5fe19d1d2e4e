using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Packet.Io.Transports.Kestrel;

/// <summary>
/// One Kestrel connection, driven through its pipes on behalf of the owning actor. A read is one
/// <c>ReadAsync</c>, started only when the owner asks, and hands over at most <c>readSize</c> bytes; input
/// stays in Kestrel's bounded pipe until the owner wants it. Writes go into the output pipe; while a flush waits for Kestrel (its write buffer is
/// full), later writes queue behind it and go out together when it completes.
/// </summary>
internal sealed class KestrelSocket(ConnectionContext connection, int readSize) : ISocketConnection
{
    private readonly Lock _gate = new();
    private readonly Queue<ByteString> _queued = new();
    private IActorRef _owner = ActorRefs.Nobody;
    private Task _reading = Task.CompletedTask;
    private bool _flushing;       // one writer at a time: the caller of Write, or a flush continuation
    private bool _stopped;        // Close or Abort was called; nothing more is written or read
    private TaskCompletionSource? _drained;
    private Task? _disposing;
    private int _closedTold;

    public EndPoint RemoteEndPoint { get; } = connection.RemoteEndPoint!;

    public EndPoint LocalEndPoint { get; } = connection.LocalEndPoint!;

    public void Register(IActorRef owner) => _owner = owner;

    public void ResumeReading() => _reading = ReadAsync();

    private async Task ReadAsync()
    {
        var input = connection.Transport.Input;
        try
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start); // Close or Abort cut the read short
                return;
            }
            if (buffer.IsEmpty)
            {
                input.AdvanceTo(buffer.End);
                if (result.IsCompleted) _owner.Tell(SocketEvents.PeerClosed.Instance);
                return;
            }
            var taken = buffer.Slice(0, Math.Min(buffer.Length, readSize));
            var data = taken.ToArray();
            input.AdvanceTo(taken.End);
            _owner.Tell(new SocketEvents.Received(data));
        }
        catch (Exception e)
        {
            if (!Volatile.Read(ref _stopped)) TellClosed(e.Message);
        }
    }

    public void Write(ByteString data)
    {
        lock (_gate)
        {
            if (_stopped) return;
            if (_flushing)
            {
                _queued.Enqueue(data);
                return;
            }
            _flushing = true;
        }
        WriteAndFlush(data);
    }

    /// <summary>Runs with <see cref="_flushing"/> held: writes, flushes, and goes on with whatever queued meanwhile.</summary>
    private void WriteAndFlush(ByteString data)
    {
        var output = connection.Transport.Output;
        while (true)
        {
            ValueTask<FlushResult> flush;
            try
            {
                Copy(data, output);
                flush = output.FlushAsync();
            }
            catch (Exception e)
            {
                WriteFailed(e.Message);
                return;
            }
            if (!flush.IsCompleted)
            {
                _ = AwaitFlushAsync(flush, data.Count);
                return;
            }
            if (!Flushed(flush, data.Count)) return;
            if (Next() is not { } next) return;
            data = next;
        }
    }

    /// <summary>Copies into the pipe's own memory, a pooled block at a time.</summary>
    private static void Copy(ByteString data, PipeWriter output)
    {
        for (var offset = 0; offset < data.Count;)
        {
            var span = output.GetSpan(Math.Min(data.Count - offset, 64 * 1024));
            var count = Math.Min(span.Length, data.Count - offset);
            span = span[..count];
            data.Slice(offset, count).CopyTo(ref span);
            output.Advance(count);
            offset += count;
        }
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> pending, int bytes)
    {
        try
        {
            await pending;
        }
        catch (Exception e)
        {
            WriteFailed(e.Message);
            return;
        }
        if (!Flushed(pending, bytes)) return;
        if (Next() is { } next) WriteAndFlush(next);
    }

    /// <summary>Acknowledges a completed flush, or reports that the socket is gone.</summary>
    private bool Flushed(ValueTask<FlushResult> flush, int bytes)
    {
        FlushResult result;
        try
        {
            result = flush.Result;
        }
        catch (Exception e)
        {
            WriteFailed(e.Message);
            return false;
        }
        if (result.IsCompleted)
        {
            WriteFailed("the connection was reset while writing");
            return false;
        }
        _owner.Tell(new SocketEvents.Written(bytes));
        return true;
    }

    /// <summary>Everything queued while a flush ran, as one write; or null, releasing the writer.</summary>
    private ByteString? Next()
    {
        lock (_gate)
        {
            if (_queued.Count == 0) // Abort empties the queue, so an aborted socket stops here too
            {
                _flushing = false;
                _drained?.TrySetResult();
                return null;
            }
            var next = _queued.Dequeue();
            while (_queued.TryDequeue(out var more)) next = next.Concat(more);
            return next;
        }
    }

    private void WriteFailed(string error)
    {
        lock (_gate)
        {
            _flushing = false;
            _queued.Clear();
            _drained?.TrySetResult();
        }
        TellClosed(error);
    }

    public void Close() => _ = CloseAsync();

    /// <summary>Sends what is queued, then completes the output: Kestrel sends the rest and FIN, then closes the socket.</summary>
    private async Task CloseAsync()
    {
        Task drained;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            if (_flushing)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                drained = _drained.Task;
            }
            else
            {
                drained = Task.CompletedTask;
            }
        }
        await drained;
        await connection.Transport.Output.CompleteAsync();
        await DisposeAsync();
        TellClosed(null);
    }

    /// <summary>Resets the socket (linger 0 sends RST) and drops queued output.</summary>
    public void Abort()
    {
        lock (_gate)
        {
            _stopped = true;
            _queued.Clear();
        }
        try
        {
            if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket) socket.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
            // already closed
        }
        try
        {
            connection.Abort(new ConnectionAbortedException("aborted by PacketAkka"));
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            // already closed and released
        }
        _ = AbortAsync();
    }

    private async Task AbortAsync()
    {
        await DisposeAsync();
        TellClosed(null);
    }

    /// <summary>Stops the read in progress, if any, then lets Kestrel finish and release the connection (once).</summary>
    private Task DisposeAsync()
    {
        lock (_gate)
        {
            return _disposing ??= DisposeOnceAsync();
        }
    }

    private async Task DisposeOnceAsync()
    {
        connection.Transport.Input.CancelPendingRead();
        await _reading;
        await connection.DisposeAsync();
    }

    private void TellClosed(string? error)
    {
        if (Interlocked.Exchange(ref _closedTold, 1) == 0) _owner.Tell(new SocketEvents.Closed(error));
    }
}
