using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Packet.Io.Transports.Kestrel;

/// <summary>
/// One Kestrel connection, driven through its pipes by the owning actor. A read is one <c>ReadAsync</c>,
/// started only when the owner asks, and hands over at most <c>readSize</c> bytes. They stay in the input
/// pipe, lent to the owner until it asks for the next read, so input is neither copied nor held beyond
/// Kestrel's bounded pipe. Writes are copied straight into the output pipe's memory, and a flush sends
/// them. One flush runs at a time: bytes written while a flush waits for Kestrel (its write buffer is
/// full) go with the owner's next flush, which follows the <see cref="SocketEvents.Written"/> that ends the wait.
/// </summary>
internal sealed class KestrelSocket(ConnectionContext connection, int readSize) : OwnedSocket, ISocketConnection
{
    private Task _reading = Task.CompletedTask;
    private SequencePosition? _lent;       // the end of the input handed to the owner, released at its next read
    private int _unflushed;                 // bytes written since the last flush
    private Task _flushing = Task.CompletedTask;
    private volatile bool _flushWaiting;    // cleared before the waiting flush's Written is told
    private volatile bool _stopped;         // Close or Abort was called; nothing more is written or read

    public EndPoint RemoteEndPoint { get; } = connection.RemoteEndPoint!;

    public EndPoint LocalEndPoint { get; } = connection.LocalEndPoint!;

    public void ResumeReading() => _reading = ReadAsync();

    private async Task ReadAsync()
    {
        var input = connection.Transport.Input;
        try
        {
            if (_lent is { } consumed)
            {
                _lent = null;
                input.AdvanceTo(consumed);
            }
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
                if (result.IsCompleted) Owner.Tell(SocketEvents.PeerClosed.Instance);
                return;
            }
            var taken = buffer.Slice(0, Math.Min(buffer.Length, readSize));
            _lent = taken.End; // published to the owner's next ResumeReading by the Tell
            Owner.Tell(new SocketEvents.Received(taken));
        }
        catch (Exception e)
        {
            if (!_stopped) TellClosed(e.Message);
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_stopped) return;
        try
        {
            connection.Transport.Output.Write(data); // into pooled blocks of the pipe
            _unflushed += data.Length;
        }
        catch (Exception e)
        {
            TellClosed(e.Message);
        }
    }

    /// <summary>
    /// A flush that Kestrel's pipe takes at once, the usual case, is acknowledged by the return value, with
    /// no message; one that waits for room is acknowledged by <see cref="SocketEvents.Written"/> when it ends.
    /// </summary>
    public int Flush()
    {
        if (_unflushed == 0 || _stopped || _flushWaiting) return 0;
        var bytes = _unflushed;
        _unflushed = 0;
        ValueTask<FlushResult> flush;
        try
        {
            flush = connection.Transport.Output.FlushAsync();
        }
        catch (Exception e)
        {
            TellClosed(e.Message);
            return 0;
        }
        if (flush.IsCompletedSuccessfully)
        {
            if (!flush.Result.IsCompleted) return bytes;
            TellClosed(ResetWhileWriting);
            return 0;
        }
        _flushWaiting = true;
        _flushing = AwaitFlushAsync(flush, bytes);
        return 0;
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> pending, int bytes)
    {
        FlushResult result;
        try
        {
            result = await pending;
        }
        catch (Exception e)
        {
            TellClosed(e.Message);
            return;
        }
        _flushWaiting = false;
        if (result.IsCompleted)
            TellClosed(ResetWhileWriting);
        else
            Owner.Tell(new SocketEvents.Written(bytes));
    }

    private const string ResetWhileWriting = "the connection was reset while writing";

    public void Close()
    {
        if (_stopped) return;
        _stopped = true;
        var (flushing, unflushed) = (_flushing, _unflushed > 0);
        _unflushed = 0;
        _ = CloseAsync(() => FinishAsync(flushing, unflushed));
    }

    /// <summary>Lets the waiting flush finish, sends the rest, then completes the output: Kestrel sends it and FIN, then closes the socket.</summary>
    private async Task FinishAsync(Task flushing, bool unflushed)
    {
        await flushing;
        var output = connection.Transport.Output;
        if (unflushed) await output.FlushAsync();
        await output.CompleteAsync();
    }

    /// <summary>Resets the socket (linger 0 sends RST) and drops unsent output.</summary>
    public void Abort()
    {
        _stopped = true;
        _unflushed = 0;
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

    /// <summary>Stops the read in progress, if any, then lets Kestrel finish and release the connection.</summary>
    protected override async Task ReleaseOnceAsync()
    {
        connection.Transport.Input.CancelPendingRead();
        await _reading;
        await connection.DisposeAsync();
    }
}
