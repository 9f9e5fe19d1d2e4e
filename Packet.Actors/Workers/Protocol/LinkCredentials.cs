using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Transport.DotNetty;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// What proves a process belongs to this master's run: a certificate and private key made in memory
/// when the master starts, never written to disk. The master hands it to each WorkerHost on its
/// standard input, and the master ↔ WorkerHost link runs Akka.Remote's TLS with mutual authentication,
/// accepting only a peer that presents this very certificate (pinned by its SHA-256 hash). A process
/// that was not handed it cannot complete the handshake, so no message of it ever reaches an actor.
/// </summary>
/// <remarks>
/// The trust decision is one pinned hash, so hosts on other machines can later be admitted the same way
/// with certificates issued for the cluster, by pinning those instead.
/// </remarks>
internal sealed class LinkCredentials
{
    private readonly byte[] _hash;
    private readonly TlsPeerCheck _check;

    private LinkCredentials(X509Certificate2 certificate)
    {
        Certificate = certificate;
        _hash = certificate.GetCertHash(HashAlgorithmName.SHA256);
        _check = new TlsPeerCheck("worker-link", peer => IsOurs(peer), "its certificate is not this master's (a process this master did not start)");
    }

    /// <summary>The run's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>A new certificate for this run: ECDSA P-256, self-signed, its key only in this process's memory.</summary>
    public static LinkCredentials Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=PacketAkka worker link", key, HashAlgorithmName.SHA256);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(100));
        // Exported and loaded again: a certificate fresh from CreateSelfSigned cannot serve TLS on every
        // platform, and the exported form is what a WorkerHost receives anyway.
        return FromPkcs12(made.Export(X509ContentType.Pkcs12));
    }

    /// <summary>The credentials as a WorkerHost receives them: <see cref="ToBase64"/>'s text.</summary>
    /// <exception cref="FormatException">The text is not a certificate with its key.</exception>
    public static LinkCredentials FromBase64(string text)
    {
        try
        {
            return FromPkcs12(Convert.FromBase64String(text));
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"the worker link's certificate cannot be read: {e.Message}", e);
        }
    }

    /// <summary>Certificate and key as base64 PKCS#12, for the start line on a WorkerHost's standard input only.</summary>
    public string ToBase64() => Convert.ToBase64String(Certificate.Export(X509ContentType.Pkcs12));

    /// <summary>Akka.Remote's TLS settings for an actor system on the link: mutual authentication, this certificate, and only this certificate trusted.</summary>
    public DotNettySslSetup Setup() => _check.Setup(Certificate);

    /// <summary>Whether <paramref name="peer"/> is this run's certificate. Its chain is not consulted: a self-signed certificate has none, and the pin is stronger.</summary>
    public bool IsOurs(X509Certificate2? peer) =>
        peer is not null && CryptographicOperations.FixedTimeEquals(peer.GetCertHash(HashAlgorithmName.SHA256), _hash);

    private static LinkCredentials FromPkcs12(byte[] pkcs12) =>
        new(X509CertificateLoader.LoadPkcs12(pkcs12, password: null, X509KeyStorageFlags.EphemeralKeySet));
}
