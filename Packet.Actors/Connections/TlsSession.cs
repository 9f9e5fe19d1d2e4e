using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Packet.Actors;

/// <summary>What a connection's TLS handshake agreed on: <see cref="Connection.Tls"/>, from <see cref="Connection.TlsHandshakeCompleted"/> on.</summary>
public sealed class TlsSession
{
    internal TlsSession(SslProtocols protocol, TlsCipherSuite cipherSuite, SslApplicationProtocol applicationProtocol, X509Certificate2? remoteCertificate)
    {
        Protocol = protocol;
        CipherSuite = cipherSuite;
        ApplicationProtocol = applicationProtocol;
        RemoteCertificate = remoteCertificate;
    }

    /// <summary>The TLS version, such as <see cref="SslProtocols.Tls13"/>.</summary>
    public SslProtocols Protocol { get; }

    /// <summary>The cipher suite.</summary>
    public TlsCipherSuite CipherSuite { get; }

    /// <summary>The protocol ALPN chose from the options' <c>ApplicationProtocols</c>; empty when none was offered or agreed.</summary>
    public SslApplicationProtocol ApplicationProtocol { get; }

    /// <summary>
    /// The peer's certificate: a server's, on a client; a client's, on a server that asked for one
    /// (<see cref="SslServerAuthenticationOptions.ClientCertificateRequired"/>) and got it; else <see langword="null"/>.
    /// </summary>
    public X509Certificate2? RemoteCertificate { get; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Protocol}, {CipherSuite}{(ApplicationProtocol.Protocol.IsEmpty ? "" : $", ALPN {ApplicationProtocol}")}{(RemoteCertificate is { } c ? $", peer {c.Subject}" : "")}";
}
