using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Packet.Tests.Support;

/// <summary>Self-signed certificates made for a test run, and the TLS options that use and trust them.</summary>
public static class TestCertificates
{
    /// <summary>A server certificate for <c>localhost</c> and 127.0.0.1, with its private key.</summary>
    public static X509Certificate2 Server { get; } = Make("CN=localhost", server: true);

    /// <summary>A client certificate, with its private key.</summary>
    public static X509Certificate2 Client { get; } = Make("CN=packet-test-client", server: false);

    /// <summary>Server options with <see cref="Server"/>; ALPN offers <paramref name="alpn"/> when given.</summary>
    public static SslServerAuthenticationOptions ServerOptions(string? alpn = null, bool requireClientCertificate = false) => new()
    {
        ServerCertificate = Server,
        ApplicationProtocols = alpn is null ? null : [new SslApplicationProtocol(alpn)],
        ClientCertificateRequired = requireClientCertificate,
        RemoteCertificateValidationCallback = requireClientCertificate ? (_, certificate, _, _) => certificate?.GetCertHashString() == Client.GetCertHashString() : null,
    };

    /// <summary>Client options for <c>localhost</c> that trust <see cref="Server"/> alone.</summary>
    public static SslClientAuthenticationOptions ClientOptions(string? alpn = null, X509Certificate2? certificate = null) => new()
    {
        TargetHost = "localhost",
        ApplicationProtocols = alpn is null ? null : [new SslApplicationProtocol(alpn)],
        ClientCertificates = certificate is null ? null : [certificate],
        RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == Server.GetCertHashString(),
    };

    /// <summary>Writes <see cref="Server"/> as a PKCS#12 file protected by <paramref name="password"/>, and returns its path.</summary>
    public static string ServerPfx(string folder, string password)
    {
        var path = Path.Combine(folder, "server.pfx");
        File.WriteAllBytes(path, Server.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    private static X509Certificate2 Make(string subject, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // Through PKCS#12, so the key is one SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }
}
