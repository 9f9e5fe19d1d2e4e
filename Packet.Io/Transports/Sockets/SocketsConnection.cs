using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Sockets;

/// <summary>
/// One socket, driven by its owner. A read first waits for data with a zero-byte receive, so an idle
/// connection holds no buffer, then takes what is there into a pooled block lent to the owner until
/// its next read. Writes are copied into an array from the transport's <paramref name="output"/> pool, which
/// doubles as output waits for a flush; a flush hands it to the kernel from the owner's
/// thread. What the kernel takes at once, the usual case, is acknowledged by <see cref="Flush"/>'s return
/// value; when its send buffer is full the send finishes in the background and a
/// <see cref="SocketEvents.Written"/> acknowledges it, and bytes written meanwhile go with the owner's next flush.
/// A read or send that had to wait tells its owner through <see cref="CompletionDispatch"/>, so the owner's turn
/// runs on the completion's thread.
/// </summary>
internal sealed class SocketsConnection(Socket socket, BlockPool pool, ArrayPool<byte> output) : ISocketConnection
{
    private readonly Lock _gate = new();
    private Task? _releasing;
    private int _closedTold;
    private Task _reading = Task.CompletedTask;
    private IMemoryOwner<byte>? _lent;     // the block handed to the owner, released at its next read
    private byte[]? _output;                // bytes written since the last flush, from the output pool
    private int _unflushed;
    private Task _sending = Task.CompletedTask;
    private volatile bool _sendWaiting;     // cleared before the waiting send's Written is told
    private volatile string? _sendFailed;
    private volatile bool _stopped;         // Close or Abort was called; nothing more is written or read

    /// <summary>Gives a connected socket, accepted or dialled, <c>packet.tcp</c>'s socket options, before it is wrapped.</summary>
    public static void SetOptions(Socket socket, TransportSettings settings)
    {
        socket.NoDelay = settings.NoDelay;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, settings.KeepAlive);
    }

    private IActorRef Owner { get; set; } = ActorRefs.Nobody; // the actor this socket's events go to

    /// <inheritdoc cref="ISocketConnection.Register"/>
    public void Register(IActorRef owner) => Owner = owner;

    /// <summary>Releases the socket, once: every later call gets the first call's task.</summary>
    private Task ReleaseAsync()
    {
        lock (_gate)
        {
            return _releasing ??= ReleaseOnceAsync();
        }
    }

    /// <summary>Runs <paramref name="finish"/> (send what is left, then FIN), releases the socket, and tells the owner it is closed, with the error if finishing failed.</summary>
    private async Task CloseAsync(Func<Task> finish)
    {
        string? error = null;
        try
        {
            await finish();
        }
        catch (Exception e)
        {
            error = e.Message;
        }
        await ReleaseAsync();
        TellClosed(error);
    }

    /// <summary>Releases the socket, then tells the owner it is closed.</summary>
    private async Task AbortAsync()
    {
        await ReleaseAsync();
        TellClosed(null);
    }

    /// <summary>Tells the owner the socket is closed, with <paramref name="error"/> if it failed; only the first call tells.</summary>
    private void TellClosed(string? error)
    {
        if (Interlocked.Exchange(ref _closedTold, 1) == 0) Owner.Tell(new SocketEvents.Closed(error));
    }

    public EndPoint RemoteEndPoint { get; } = socket.RemoteEndPoint!;

    public EndPoint LocalEndPoint { get; } = socket.LocalEndPoint!;

    public void ResumeReading()
    {
        if (_stopped) return;
        _lent?.Dispose();
        _lent = null;
        _reading = ReadAsync();
    }

    private async Task ReadAsync()
    {
        IMemoryOwner<byte>? block = null;
        try
        {
            var ready = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
            var waited = !ready.IsCompleted; // then what follows runs on a completion thread, no actor on it
            await ready;
            block = pool.Rent();
            var read = await socket.ReceiveAsync(block.Memory, SocketFlags.None);
            if (read == 0)
            {
                block.Dispose();
                Owner.Tell(SocketEvents.PeerClosed.Instance);
                return;
            }
            _lent = block; // published to the owner's next ResumeReading by the Tell
            block = null;
            Tell(new SocketEvents.Received(new ReadOnlySequence<byte>(_lent.Memory[..read])), waited);
        }
        catch (Exception e)
        {
            block?.Dispose();
            if (!_stopped) TellClosed(e.Message);
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_stopped) return;
        if (_output is null || _output.Length - _unflushed < data.Length)
        {
            // At least twice the old size: past the pool's largest arrays it allocates exactly what is asked.
            var larger = output.Rent(Math.Max(Math.Max(_unflushed + data.Length, 2 * (_output?.Length ?? 0)), 4096));
            if (_output is not null)
            {
                _output.AsSpan(0, _unflushed).CopyTo(larger);
                output.Return(_output);
            }
            _output = larger;
        }
        data.CopyTo(_output.AsSpan(_unflushed));
        _unflushed += data.Length;
    }

    public int Flush()
    {
        if (_unflushed == 0 || _stopped || _sendWaiting) return 0;
        var buffer = _output!;
        var bytes = _unflushed;
        _output = null;
        _unflushed = 0;
        ValueTask<int> send;
        try
        {
            send = socket.SendAsync(buffer.AsMemory(0, bytes), SocketFlags.None);
        }
        catch (Exception e)
        {
            output.Return(buffer);
            TellClosed(e.Message);
            return 0;
        }
        if (send.IsCompletedSuccessfully)
        {
            _ = send.Result;
            output.Return(buffer);
            return bytes;
        }
        _sendWaiting = true;
        _sending = AwaitSendAsync(send, buffer, bytes);
        return 0;
    }

    private async Task AwaitSendAsync(ValueTask<int> send, byte[] buffer, int bytes)
    {
        var waited = !send.IsCompleted;
        try
        {
            await send;
        }
        catch (Exception e)
        {
            _sendFailed = e.Message;
            if (!_stopped) TellClosed(e.Message);
            return;
        }
        finally
        {
            output.Return(buffer);
        }
        _sendWaiting = false;
        Tell(new SocketEvents.Written(bytes), waited);
    }

    /// <summary>
    /// Tells the owner what a read or send brought. One that <paramref name="waited"/> finishes on a completion's
    /// thread, where no actor runs, and runs the owner's turn there; one that did not runs inside the owner's turn.
    /// </summary>
    private void Tell(object message, bool waited)
    {
        if (waited) CompletionDispatch.Tell(Owner, message);
        else Owner.Tell(message);
    }

    public void Close()
    {
        if (_stopped) return;
        Flush();
        _stopped = true;
        _ = CloseAsync(FinishAsync);
    }

    /// <summary>Lets the waiting send finish, sends the rest, then FIN.</summary>
    private async Task FinishAsync()
    {
        await _sending;
        if (_sendFailed is { } failed) throw new IOException(failed);
        if (_unflushed > 0) await socket.SendAsync(_output.AsMemory(0, _unflushed), SocketFlags.None);
        socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Resets the socket (linger 0 sends RST) and drops unsent output.</summary>
    public void Abort()
    {
        _stopped = true;
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // already closed
        }
        _ = AbortAsync();
    }

    /// <summary>Closes the socket, which ends a read or send in progress; called once, by <see cref="ReleaseAsync"/>.</summary>
    private async Task ReleaseOnceAsync()
    {
        socket.Dispose();
        await _reading;
        await _sending;
        _lent?.Dispose(); // the owner is done with it: it closes or resets only between messages
        _lent = null;
        // Left to the GC rather than returned to its pool: a last send may still hold it.
        _output = null;
        _unflushed = 0;
    }
}
