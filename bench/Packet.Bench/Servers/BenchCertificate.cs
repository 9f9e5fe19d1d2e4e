using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Packet.Bench.Servers;

/// <summary>The TLS echo servers' certificate: self-signed, ECDSA P-256, made when a server starts (the load generator does not check it).</summary>
public static class BenchCertificate
{
    /// <summary>Server options on a fresh certificate for <c>localhost</c>.</summary>
    public static SslServerAuthenticationOptions ServerOptions()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return new SslServerAuthenticationOptions { ServerCertificate = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null) };
    }
}
