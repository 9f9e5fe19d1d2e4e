using System.Buffers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Akka.IO;

namespace Packet.Io.Transports;

/// <summary>What a transport tells the actor that listens or owns a socket. One vocabulary for every transport.</summary>
internal static class SocketEvents
{
    /// <summary>The listener is bound.</summary>
    internal sealed record Bound(ISocketListener Listener);

    /// <summary>Binding failed, or a bound listener stopped accepting because of an error; nothing listens.</summary>
    internal sealed record BindFailed(Exception Cause);

    /// <summary>
    /// An accept failed for want of a resource, such as file descriptors; the listener tries again after
    /// <paramref name="RetryIn"/>, and the connection waits in the backlog meanwhile.
    /// </summary>
    internal sealed record AcceptFailed(Exception Cause, TimeSpan RetryIn);

    /// <summary>The listener is closed and its port free.</summary>
    internal sealed class Unbound
    {
        public static readonly Unbound Instance = new();
    }

    /// <summary>A socket is connected: accepted by a listener (to its owner), or dialled (to the dialler).</summary>
    internal sealed record Connected(ISocketConnection Socket);

    /// <summary>A dial failed: refused, unreachable or reset.</summary>
    internal sealed record ConnectFailed(Exception Cause);

    /// <summary>
    /// Bytes read from the peer, after a <see cref="ISocketConnection.ResumeReading"/>. They may lie in
    /// the transport's own buffers, lent until the owner's next <see cref="ISocketConnection.ResumeReading"/>,
    /// <see cref="ISocketConnection.Close"/> or <see cref="ISocketConnection.Abort"/>: the owner copies what it keeps longer.
    /// </summary>
    internal sealed record Received(ReadOnlySequence<byte> Data)
    {
        public override string ToString() => $"Received({Data.Length} bytes)";
    }

    /// <summary>
    /// The transport took the <paramref name="bytes"/> bytes of a <see cref="ISocketConnection.Flush"/>. It is an
    /// Akka.IO event too, so Akka.IO hands it back as the write's acknowledgement unchanged.
    /// </summary>
    internal sealed class Written(int bytes) : Tcp.Event
    {
        public int Bytes { get; } = bytes;
    }

    /// <summary>The peer sent FIN: it will send no more, but may still read.</summary>
    internal sealed class PeerClosed
    {
        public static readonly PeerClosed Instance = new();
    }

    /// <summary>The socket is closed: as asked (<paramref name="Error"/> null), or because of <paramref name="Error"/>.</summary>
    internal sealed record Closed(string? Error);

    /// <summary>A TLS socket's handshake completed: what it agreed on, and the peer's certificate if it sent one.</summary>
    internal sealed record TlsEstablished(SslProtocols Protocol, TlsCipherSuite CipherSuite, SslApplicationProtocol ApplicationProtocol, X509Certificate2? RemoteCertificate);

    /// <summary>A TLS socket's handshake failed or timed out; <paramref name="Reason"/> says which, and why.</summary>
    internal sealed record TlsFailed(string Reason, Exception Cause);
}
