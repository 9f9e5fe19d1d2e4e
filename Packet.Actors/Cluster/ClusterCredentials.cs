using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Transport.DotNetty;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Cluster;

/// <summary>
/// What admits a process to a PacketAkka cluster: a certificate for its role, issued by the cluster's own
/// certificate authority. Links between nodes run Akka.Remote's TLS with mutual authentication, and a
/// peer is accepted only if its certificate chains to that authority, whatever the machine's certificate
/// store trusts; a process without a certificate the authority issued cannot complete the handshake, so
/// no message of it reaches an actor.
/// </summary>
/// <remarks>
/// <see cref="Create"/> writes a credentials folder: <c>ca.crt</c> (the authority's certificate, public), and
/// <c>packet-master.pfx</c> and <c>packet-host.pfx</c> (a node certificate with its private key per role,
/// readable by the owner only). The authority's private key is not kept: to admit nodes of another
/// authority, or after a key leaks, make new credentials and roll them out.
/// </remarks>
internal sealed class ClusterCredentials
{
    /// <summary>The roles a node certificate is issued for.</summary>
    public static readonly IReadOnlyList<string> Roles = ["packet-master", "packet-host"];

    /// <summary>The authority's certificate file in a credentials folder.</summary>
    public const string AuthorityFile = "ca.crt";

    private readonly X509Certificate2 _authority;
    private readonly byte[] _authorityHash;
    private readonly TlsPeerCheck _check;

    private ClusterCredentials(X509Certificate2 authority, X509Certificate2 node, string role)
    {
        _authority = authority;
        _authorityHash = authority.GetCertHash(HashAlgorithmName.SHA256);
        Node = node;
        Role = role;
        _check = new TlsPeerCheck("cluster", peer => IssuedByAuthority(peer), "its certificate was not issued by this cluster's authority", Seen);
    }

    private readonly ConcurrentDictionary<(string Host, int Port), string?> _rolesDialed = new(); // written on Akka.Remote's socket threads

    /// <summary>
    /// The role named by the certificate of the node at <paramref name="address"/>, as seen when this node
    /// last opened a link to it; <see langword="null"/> before it has. A node's cluster membership names the
    /// roles it claims; this is the one its certificate proves.
    /// </summary>
    public string? RoleAt(Akka.Actor.Address address) =>
        address.Host is { } host && _rolesDialed.TryGetValue((host, address.Port ?? 0), out var role) ? role : null;

    /// <summary>Forgets what was seen at <paramref name="address"/> (its member left), so the dictionary holds the members only.</summary>
    public void Forget(Akka.Actor.Address address)
    {
        if (address.Host is { } host) _rolesDialed.TryRemove((host, address.Port ?? 0), out _);
    }

    /// <summary>A peer accepted: when this node dialed it, its address and certificate are the same node's, and its role is recorded.</summary>
    private void Seen(string remote, X509Certificate2 peer)
    {
        if (!remote.Contains("://", StringComparison.Ordinal) || !Uri.TryCreate(remote, UriKind.Absolute, out var dialed) || dialed.Port <= 0) return;
        _rolesDialed[(dialed.Host, dialed.Port)] = RoleIn(peer);
    }

    /// <summary>The role a node certificate was issued for (its OU), or <see langword="null"/> if it names none.</summary>
    public static string? RoleIn(X509Certificate2 certificate) =>
        certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(name => !name.HasMultipleElements && name.GetSingleElementType().Value == "2.5.4.11") // organizationalUnitName
            .Select(name => name.GetSingleElementValue())
            .FirstOrDefault();

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Node { get; }

    /// <summary>The role this node's certificate was issued for.</summary>
    public string Role { get; }

    /// <summary>The file of a role's node certificate in a credentials folder.</summary>
    public static string NodeFile(string role) => $"{role}.pfx";

    /// <summary>
    /// Makes a cluster's credentials in <paramref name="folder"/> (created if missing; it must hold none
    /// already): a new authority, and a certificate per role it issues, valid for
    /// <paramref name="hostnames"/> (DNS names or IP addresses, for peers that check them) and for <paramref name="years"/>.
    /// </summary>
    /// <exception cref="IOException">The folder already holds credentials.</exception>
    public static void Create(string folder, IReadOnlyList<string> hostnames, int years = 10)
    {
        var files = Roles.Select(NodeFile).Prepend(AuthorityFile).Select(name => Path.Combine(folder, name)).ToArray();
        if (files.FirstOrDefault(File.Exists) is { } existing)
            throw new IOException($"{existing} exists: credentials are made once per cluster, into a folder of their own");
        Directory.CreateDirectory(folder);
        var from = DateTimeOffset.UtcNow.AddDays(-1);
        var until = DateTimeOffset.UtcNow.AddYears(years);
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest("CN=PacketAkka cluster authority", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        using var authority = authorityRequest.CreateSelfSigned(from, until);
        foreach (var role in Roles)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=PacketAkka {role}, OU={role}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // server and client authentication
            var names = new SubjectAlternativeNameBuilder();
            foreach (var name in hostnames)
                if (IPAddress.TryParse(name, out var address)) names.AddIpAddress(address);
                else names.AddDnsName(name);
            if (hostnames.Count > 0) request.CertificateExtensions.Add(names.Build());
            using var issued = request.Create(authority, from, until, RandomNumberGenerator.GetBytes(16));
            using var withKey = issued.CopyWithPrivateKey(key);
            WriteSecret(Path.Combine(folder, NodeFile(role)), withKey.Export(X509ContentType.Pkcs12));
        }
        File.WriteAllText(Path.Combine(folder, AuthorityFile), authority.ExportCertificatePem() + "\n");
    }

    /// <summary>A file only its owner may read, made so before anything is written to it.</summary>
    private static void WriteSecret(string path, byte[] content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(content);
    }

    /// <summary>The credentials of a node of <paramref name="role"/>, from a folder <see cref="Create"/> made.</summary>
    /// <exception cref="InvalidDataException">A file is missing, unreadable, or its certificate was not issued by the folder's authority.</exception>
    public static ClusterCredentials Load(string folder, string role)
    {
        if (!Roles.Contains(role)) throw new ArgumentException($"no role {role}: the roles are {string.Join(", ", Roles)}", nameof(role));
        X509Certificate2 authority, node;
        try
        {
            authority = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(folder, AuthorityFile));
            node = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(folder, NodeFile(role)), password: null, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception e) when (e is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"the cluster credentials in {folder} cannot be read: {e.Message}", e);
        }
        var credentials = new ClusterCredentials(authority, node, role);
        if (!node.HasPrivateKey || !credentials.IssuedByAuthority(node))
            throw new InvalidDataException($"{Path.Combine(folder, NodeFile(role))} is not a certificate with its key issued by the authority in {Path.Combine(folder, AuthorityFile)}");
        if (RoleIn(node) != role)
            throw new InvalidDataException($"{Path.Combine(folder, NodeFile(role))} is a certificate for the role {RoleIn(node) ?? "(none)"}, not {role}");
        return credentials;
    }

    /// <summary>Akka.Remote's TLS settings for a node: mutual authentication with this node's certificate, and only certificates of this cluster's authority trusted.</summary>
    public DotNettySslSetup Setup() => _check.Setup(Node);

    /// <summary>
    /// Whether <paramref name="peer"/> was issued by this cluster's authority (checked against it alone, not
    /// the machine's store, and within its validity), and is a node certificate, not the authority itself.
    /// </summary>
    public bool IssuedByAuthority(X509Certificate2? peer)
    {
        if (peer is null || CryptographicOperations.FixedTimeEquals(peer.GetCertHash(HashAlgorithmName.SHA256), _authorityHash)) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(peer)
            && chain.ChainElements.Count == 2
            && CryptographicOperations.FixedTimeEquals(chain.ChainElements[^1].Certificate.GetCertHash(HashAlgorithmName.SHA256), _authorityHash);
    }
}
