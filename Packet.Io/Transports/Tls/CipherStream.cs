using System.Buffers;
using System.IO.Pipelines;

namespace Packet.Io.Transports.Tls;

/// <summary>
/// The stream a <see cref="TlsSocket"/>'s <see cref="System.Net.Security.SslStream"/> runs over: it reads the ciphertext
/// the socket received from a pipe, and hands the ciphertext it writes to <paramref name="write"/> at once, which copies it.
/// </summary>
internal sealed class CipherStream(PipeReader input, CipherStream.Output write) : Stream
{
    /// <summary>Takes ciphertext written; the span is valid only during the call.</summary>
    public delegate void Output(ReadOnlySpan<byte> data);

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var available = result.Buffer;
        var count = (int)Math.Min(available.Length, buffer.Length);
        available.Slice(0, count).CopyTo(buffer.Span);
        input.AdvanceTo(available.GetPosition(count));
        return count; // 0 only at the end: the pipe completes a read with no bytes only when it is completed
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count) => write(buffer.AsSpan(offset, count));

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    /// <summary>Not used by SslStream's asynchronous calls, the only ones a <see cref="TlsSocket"/> makes; blocking here would hold a pool thread.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("a TLS socket's stream is read asynchronously only");

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
