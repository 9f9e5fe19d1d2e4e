using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Akka.Actor;

namespace Packet.Io.Transports.Tls;

/// <summary>
/// TLS over any transport's socket: an <see cref="ISocketConnection"/> that its owner drives as it drives a plain one,
/// while an <see cref="SslStream"/> encrypts what it writes and decrypts what it reads. The socket underneath
/// (<see cref="Inner"/>) keeps its owner, so its events still come to the owner's actor, which hands every message to
/// <see cref="Translate"/> first: the socket's events become the plaintext's, and this class's own messages (from the
/// <see cref="SslStream"/>'s work, which runs on the thread pool) are consumed there. Every call on the socket underneath
/// is made from the owner's thread.
/// </summary>
/// <remarks>
/// Ciphertext read from the socket is copied into a pipe the <see cref="SslStream"/> reads (<see cref="CipherStream"/>); the
/// socket is read again only once the pipe has room, so at most <see cref="CipherInLimit"/> bytes and a read wait there.
/// Plaintext is read only when the owner asks (<see cref="ResumeReading"/>), and only once it has come (a zero-byte read waits
/// for it), into a pooled buffer lent to the owner until its next read,
/// so a paused handler stops the peer as it does without TLS. Plaintext written is encrypted in order; its bytes are
/// acknowledged once the ciphertext made from them has been taken by the socket underneath. Bytes the owner wrote before
/// TLS started (<c>clearInFlight</c>, a STARTTLS reply) go out first, in clear, and are acknowledged as they were.
/// </remarks>
internal sealed class TlsSocket : ISocketConnection
{
    /// <summary>The most ciphertext waiting for the <see cref="SslStream"/> before the socket is read again.</summary>
    internal const int CipherInLimit = 64 * 1024;

    /// <summary>The plaintext read at once: a TLS record's most.</summary>
    private const int PlainInSize = 16 * 1024;

    /// <summary>Plaintext written is gathered into blocks of at least this much before it is encrypted.</summary>
    private const int PlainOutBlock = 16 * 1024;

    private readonly IActorRef _owner;
    private readonly Func<SslStream, CancellationToken, Task> _authenticate;
    private readonly TimeSpan _handshakeTimeout;
    private readonly Pipe _cipherIn = new(new PipeOptions(pauseWriterThreshold: CipherInLimit, resumeWriterThreshold: CipherInLimit / 2, useSynchronizationContext: false));
    private readonly SslStream _ssl;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _plainWanted = new(0);
    private readonly Channel<Block> _plainOut = Channel.CreateUnbounded<Block>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Queue<Encrypted> _encrypted = new(); // plaintext blocks whose ciphertext is not all taken yet
    private byte[]? _lent;                                 // the plaintext of the last read, from the pool, lent to the owner until its next
    private byte[]? _block;                                // plaintext written since the last block was queued
    private int _blockLength;
    private long _cipherMade;                              // ciphertext the SslStream has written: from its threads
    private long _cipherTaken;                             // ciphertext the socket underneath has taken
    private long _clearInFlight;                           // bytes written before TLS started, not yet taken
    private bool _innerReading;
    private bool _innerEnded;
    private bool _innerClosing;                            // the socket underneath was told to close
    private bool _stopped;

    /// <summary>Wraps <paramref name="inner"/>, connected and registered to <paramref name="owner"/>; nothing happens before <see cref="Register"/>.</summary>
    /// <param name="inner">The socket underneath.</param>
    /// <param name="owner">The actor both sockets report to.</param>
    /// <param name="authenticate">Runs the handshake: as server or client, with the user's options.</param>
    /// <param name="handshakeTimeout">How long the handshake may take (<c>packet.tcp.tls-handshake-timeout</c>).</param>
    /// <param name="clearInFlight">Bytes the owner wrote to <paramref name="inner"/> and flushed, not yet acknowledged.</param>
    /// <param name="innerReading">Whether a read of <paramref name="inner"/> is out: its bytes are the first ciphertext.</param>
    public TlsSocket(ISocketConnection inner, IActorRef owner, Func<SslStream, CancellationToken, Task> authenticate, TimeSpan handshakeTimeout,
        long clearInFlight, bool innerReading)
    {
        Inner = inner;
        _owner = owner;
        _authenticate = authenticate;
        _handshakeTimeout = handshakeTimeout;
        _clearInFlight = clearInFlight;
        _innerReading = innerReading;
        _ssl = new SslStream(new CipherStream(_cipherIn.Reader, Encrypt), leaveInnerStreamOpen: false);
    }

    /// <summary>The server side's handshake, with <paramref name="options"/>: what the constructor's <c>authenticate</c> takes.</summary>
    public static Func<SslStream, CancellationToken, Task> AsServer(SslServerAuthenticationOptions options) =>
        (ssl, cancel) => ssl.AuthenticateAsServerAsync(options, cancel);

    /// <summary>The client side's handshake, with <paramref name="options"/>.</summary>
    public static Func<SslStream, CancellationToken, Task> AsClient(SslClientAuthenticationOptions options) =>
        (ssl, cancel) => ssl.AuthenticateAsClientAsync(options, cancel);

    /// <summary>The socket underneath.</summary>
    public ISocketConnection Inner { get; }

    public EndPoint RemoteEndPoint => Inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => Inner.LocalEndPoint;

    /// <summary>Starts the handshake, and reading and writing after it.</summary>
    public void Register(IActorRef owner)
    {
        var handshake = HandshakeAsync();
        var reading = ReadPlainAsync(handshake);
        var writing = WritePlainAsync(handshake);
        Task.WhenAll(reading, writing).ContinueWith(static (_, state) => ((TlsSocket)state!).Release(), this, TaskScheduler.Default);
        ReadInner();
    }

    /// <summary>Asks for the next plaintext read; the previous read's buffer goes back to the pool.</summary>
    public void ResumeReading()
    {
        if (_lent is { } done) ArrayPool<byte>.Shared.Return(done);
        _lent = null;
        if (!_stopped) _plainWanted.Release();
    }

    /// <summary>Copies plaintext aside; full blocks are handed to the encryption at once, the rest at <see cref="Flush"/>.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            _block ??= ArrayPool<byte>.Shared.Rent(PlainOutBlock);
            var part = Math.Min(data.Length, _block.Length - _blockLength);
            data[..part].CopyTo(_block.AsSpan(_blockLength));
            _blockLength += part;
            data = data[part..];
            if (_blockLength == _block.Length) QueueBlock();
        }
    }

    /// <summary>
    /// Hands what was written to the encryption, whose bytes are acknowledged later, by <see cref="SocketEvents.Written"/>; and
    /// flushes the socket underneath, which sends ciphertext written while its last send was waiting only when flushed again.
    /// Returns the plaintext that flush acknowledges.
    /// </summary>
    public int Flush()
    {
        if (_blockLength > 0) QueueBlock();
        return !_stopped && Inner.Flush() is > 0 and var taken ? Taken(taken)?.Bytes ?? 0 : 0;
    }

    /// <summary>Sends what was written, then TLS's close_notify, then closes the socket underneath.</summary>
    public void Close()
    {
        if (_blockLength > 0) QueueBlock(); // the owner flushed before: nothing of the socket underneath is left to acknowledge
        if (!_stopped) _plainOut.Writer.TryWrite(Block.End);
    }

    public void Abort()
    {
        Stop();
        Inner.Abort();
    }

    /// <summary>
    /// Turns a message to the owner into what it means above TLS: an event of the socket underneath, or one of this
    /// socket's own. Returns <see langword="null"/> for what is consumed here; any other message is returned as it is.
    /// </summary>
    public object? Translate(object message)
    {
        switch (message)
        {
            case SocketEvents.Received received:
                TakeCipher(received.Data);
                return null;
            case SocketEvents.PeerClosed:
                _innerReading = false;
                _innerEnded = true;
                _cipherIn.Writer.Complete(); // the SslStream reads to the end, and the owner hears of it from there
                if (_innerClosing) Inner.Close(); // see ConnectionActor.Closing: Akka.IO dropped the close, ask again
                return null;
            case SocketEvents.Written written:
                return Taken(written.Bytes);
            case SocketEvents.Closed:
                Stop();
                return message;
            case CipherRoom:
                ReadInner();
                return null;
            case CipherOut output:
                if (_stopped) return null;
                Inner.Write(output.Data);
                return Inner.Flush() is > 0 and var taken ? Taken(taken) : null;
            case Encrypted encrypted:
                _encrypted.Enqueue(encrypted);
                return Taken(0);
            case PlainRead read:
                if (read.Buffer is null) return SocketEvents.PeerClosed.Instance;
                _lent = read.Buffer;
                return new SocketEvents.Received(new ReadOnlySequence<byte>(read.Buffer, 0, read.Count));
            case PlainFailed failed:
                return new SocketEvents.Closed(failed.Error);
            case CloseInner:
                if (_stopped) return null;
                _innerClosing = true;
                Inner.Close();
                return null;
            default:
                return message;
        }
    }

    // ---- the owner's side ----------------------------------------------------------------------

    private void TakeCipher(ReadOnlySequence<byte> data)
    {
        _innerReading = false;
        if (_stopped) return;
        foreach (var segment in data) _cipherIn.Writer.Write(segment.Span); // copied: the socket's memory is lent until its next read
        var flushed = _cipherIn.Writer.FlushAsync();
        if (flushed.IsCompleted)
        {
            flushed.GetAwaiter().GetResult();
            ReadInner();
        }
        else
        {
            flushed.AsTask().ContinueWith(static (_, owner) => ((IActorRef)owner!).Tell(CipherRoom.Instance), _owner, TaskScheduler.Default);
        }
    }

    private void ReadInner()
    {
        if (_innerReading || _innerEnded || _stopped) return;
        _innerReading = true;
        Inner.ResumeReading();
    }

    private void QueueBlock()
    {
        _plainOut.Writer.TryWrite(new Block(_block!, _blockLength));
        _block = null;
        _blockLength = 0;
    }

    /// <summary>The socket underneath took <paramref name="bytes"/>: the clear bytes first, then ciphertext, which acknowledges the plaintext it was made from.</summary>
    private SocketEvents.Written? Taken(int bytes)
    {
        var clear = (int)Math.Min(bytes, _clearInFlight);
        _clearInFlight -= clear;
        _cipherTaken += bytes - clear;
        var plain = clear;
        while (_encrypted.TryPeek(out var next) && next.CipherEnd <= _cipherTaken)
        {
            plain += next.Plain;
            _encrypted.Dequeue();
        }
        return plain > 0 ? new SocketEvents.Written(plain) : null;
    }

    private void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        _stop.Cancel();
        _plainOut.Writer.TryComplete();
        _cipherIn.Writer.Complete();
    }

    // ---- the SslStream's side, on the thread pool -------------------------------------------------

    private async Task HandshakeAsync()
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        limit.CancelAfter(_handshakeTimeout);
        try
        {
            await _authenticate(_ssl, limit.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (!_stop.IsCancellationRequested)
            {
                var reason = limit.IsCancellationRequested
                    ? $"the TLS handshake did not complete within {_handshakeTimeout}"
                    : $"the TLS handshake failed: {Describe(e)}";
                _owner.Tell(new SocketEvents.TlsFailed(reason, e));
            }
            throw;
        }
        var certificate = _ssl.RemoteCertificate switch
        {
            null => null,
            X509Certificate2 full => full,
            var other => X509CertificateLoader.LoadCertificate(other.GetRawCertData()),
        };
        _owner.Tell(new SocketEvents.TlsEstablished(_ssl.SslProtocol, _ssl.NegotiatedCipherSuite, _ssl.NegotiatedApplicationProtocol, certificate));
    }

    private async Task ReadPlainAsync(Task handshake)
    {
        try
        {
            await handshake.ConfigureAwait(false);
            while (true)
            {
                await _plainWanted.WaitAsync(_stop.Token).ConfigureAwait(false);
                // A zero-byte read waits for the peer holding no buffer, here or in the SslStream: an idle connection keeps none.
                await _ssl.ReadAsync(Memory<byte>.Empty, _stop.Token).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(PlainInSize);
                var count = await _ssl.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (count == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    _owner.Tell(PlainRead.End);
                    return;
                }
                _owner.Tell(new PlainRead(buffer, count));
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested || !handshake.IsCompletedSuccessfully)
        {
            // stopped, or the handshake failed and said so
        }
        catch (Exception e)
        {
            _owner.Tell(new PlainFailed($"TLS: {Describe(e)}"));
        }
    }

    private async Task WritePlainAsync(Task handshake)
    {
        try
        {
            await handshake.ConfigureAwait(false);
            await foreach (var block in _plainOut.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                if (block.Data is null)
                {
                    await _ssl.ShutdownAsync().ConfigureAwait(false); // close_notify, as Encrypt's last output
                    _owner.Tell(CloseInner.Instance);
                    return;
                }
                await _ssl.WriteAsync(block.Data.AsMemory(0, block.Length), _stop.Token).ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(block.Data);
                _owner.Tell(new Encrypted(Interlocked.Read(ref _cipherMade), block.Length));
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested || !handshake.IsCompletedSuccessfully)
        {
            // stopped, or the handshake failed and said so
        }
        catch (Exception e)
        {
            _owner.Tell(new PlainFailed($"TLS: {Describe(e)}"));
        }
    }

    /// <summary>The SslStream wrote <paramref name="cipher"/>: copied, to the owner, which writes it to the socket underneath.</summary>
    private void Encrypt(ReadOnlySpan<byte> cipher)
    {
        Interlocked.Add(ref _cipherMade, cipher.Length);
        _owner.Tell(new CipherOut(cipher.ToArray()));
    }

    /// <summary>Once reading and writing have ended: the SslStream's native state goes. (<see cref="_stop"/> stays: the owner may still stop, and it holds no timer.)</summary>
    private void Release() => _ssl.Dispose();

    /// <summary>An exception's message, with its inner one's, which is where SslStream says what went wrong.</summary>
    private static string Describe(Exception e) => e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;

    // ---- messages from the SslStream's side to the owner, which hands them back to Translate -------------------

    /// <summary>Ciphertext to write to the socket underneath.</summary>
    private sealed record CipherOut(byte[] Data)
    {
        public override string ToString() => $"CipherOut({Data.Length} bytes)";
    }

    /// <summary>The pipe of ciphertext has room again: read the socket underneath.</summary>
    private sealed class CipherRoom
    {
        public static readonly CipherRoom Instance = new();
    }

    /// <summary><paramref name="Plain"/> bytes are encrypted; they are taken once the socket underneath has taken <paramref name="CipherEnd"/> bytes of ciphertext.</summary>
    private sealed record Encrypted(long CipherEnd, int Plain);

    /// <summary>A plaintext read: <paramref name="Count"/> bytes in <paramref name="Buffer"/>, from the pool; <see cref="End"/> at the peer's end.</summary>
    private sealed record PlainRead(byte[]? Buffer, int Count)
    {
        public static readonly PlainRead End = new(null, 0);

        public override string ToString() => $"PlainRead({Count} bytes)";
    }

    /// <summary>Reading or writing failed after the handshake (a bad record, a reset): the connection is over.</summary>
    private sealed record PlainFailed(string Error);

    /// <summary>close_notify is written: close the socket underneath.</summary>
    private sealed class CloseInner
    {
        public static readonly CloseInner Instance = new();
    }

    /// <summary>Plaintext to encrypt, in a pooled array; <see cref="End"/> closes.</summary>
    private readonly record struct Block(byte[]? Data, int Length)
    {
        public static readonly Block End = new(null, 0);
    }
}
