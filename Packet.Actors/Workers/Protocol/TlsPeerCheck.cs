using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Akka.Remote's TLS settings for one kind of link: mutual authentication with this process's certificate,
/// and a peer taken only when <paramref name="accepts"/> says so. Akka.Remote calls the check on its socket
/// threads for every handshake, and a stranger can repeat handshakes at will, so its refusal warning is
/// logged at most once per <see cref="LogThrottle.Interval"/>, with a count.
/// </summary>
/// <param name="link">What the warning calls the link (<c>worker-link</c>, <c>cluster</c>).</param>
/// <param name="accepts">Whether a peer's certificate is one of ours.</param>
/// <param name="notOurs">Why a peer whose certificate is not is refused, for the warning.</param>
/// <param name="accepted">
/// Told of each peer accepted, with its remote: for a link this process opened, the Akka address it dialed
/// (<c>ssl.tcp://system@host:port</c>); for one it accepted, the socket's endpoint.
/// </param>
internal sealed class TlsPeerCheck(string link, Func<X509Certificate2, bool> accepts, string notOurs, Action<string, X509Certificate2>? accepted = null)
{
    private readonly LogThrottle _refusals = new();

    public DotNettySslSetup Setup(X509Certificate2 own) =>
        new(own, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, customValidator: Validate);

    private bool Validate(X509Certificate2? peer, X509Chain? chain, string remote, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (peer is not null && accepts(peer))
        {
            accepted?.Invoke(remote, peer);
            return true;
        }
        int skipped;
        lock (_refusals)
            if (!_refusals.Due(out skipped)) return false;
        log.Warning("refused a {Link} connection from {Peer}: {Reason} ({Skipped} more such refusals since the last warning)", link, remote,
            peer is null ? "it presented no certificate" : notOurs, skipped);
        return false;
    }
}
