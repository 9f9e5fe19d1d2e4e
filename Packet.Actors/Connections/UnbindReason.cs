namespace Packet.Actors;

/// <summary>Why a connection ended. Every connection reports exactly one of these to <see cref="Connection.Unbind"/>.</summary>
public enum UnbindKind
{
    /// <summary>The peer closed the connection (end of stream).</summary>
    PeerClosed,

    /// <summary>This side closed it with <see cref="Connection.CloseConnection"/> or <see cref="Connection.CloseConnectionAfterWriting"/>.</summary>
    LocalClose,

    /// <summary>A socket error, such as a reset by the peer. <see cref="UnbindReason.Exception"/> may carry it.</summary>
    Error,

    /// <summary>An outbound connect was refused or failed (no listener, unresolvable host).</summary>
    ConnectFailed,

    /// <summary>An outbound connect stayed pending longer than <see cref="Connection.PendingConnectTimeout"/>.</summary>
    ConnectTimeout,

    /// <summary>No byte was read or written for <see cref="Connection.InactivityTimeout"/>.</summary>
    InactivityTimeout,

    /// <summary><see cref="Connection.CloseConnectionAfterWriting"/> could not deliver every byte within <c>packet.tcp.close-timeout</c>.</summary>
    CloseTimeout,

    /// <summary>A write would have taken the output buffer above <c>packet.tcp.backpressure.max-outbound</c>.</summary>
    OutboundOverflow,

    /// <summary>The peer broke the framing protocol: a bad header, or a line or frame over its limit.</summary>
    ProtocolError,

    /// <summary>A handler hook threw; <see cref="UnbindReason.Exception"/> is what it threw.</summary>
    HandlerException,

    /// <summary>The reactor, or the server that accepted the connection, stopped while it was open.</summary>
    Shutdown,

    /// <summary>
    /// The TLS handshake (<see cref="Connection.StartTls(System.Net.Security.SslServerAuthenticationOptions)"/>, or a server's
    /// <c>tls</c> option) failed, or did not complete within <c>packet.tcp.tls-handshake-timeout</c>: a peer that does not
    /// speak TLS, a certificate refused either way, no protocol or cipher in common. <see cref="UnbindReason.Exception"/> is
    /// what the handshake threw.
    /// </summary>
    TlsHandshakeFailed,
}

/// <summary>The reason handed to <see cref="Connection.Unbind"/>.</summary>
/// <param name="Kind">What ended the connection.</param>
/// <param name="Message">A sentence for logs, naming the detail (the limit hit, the socket error).</param>
/// <param name="Exception">The exception behind it, if any.</param>
public sealed record UnbindReason(UnbindKind Kind, string Message, Exception? Exception = null)
{
    /// <inheritdoc />
    public override string ToString() => $"{Kind}: {Message}";
}
