using System.Net;
using Akka.Configuration;
using Packet.Io.Configuration;

namespace Packet.Actors.Cluster;

/// <summary>The <c>packet.cluster</c> settings, read and checked once.</summary>
/// <param name="Enabled">Whether a master joins (or starts) a cluster.</param>
/// <param name="SystemName">The actor system name every node of the cluster has.</param>
/// <param name="Hostname">The address this node listens on and is reached at.</param>
/// <param name="Port">Its port; 0 for a free one.</param>
/// <param name="SeedNodes">The nodes to join, as <c>host:port</c>; none for a master that starts the cluster.</param>
/// <param name="Credentials">The credentials folder; empty when the cluster is off.</param>
/// <param name="PreferLocal">Whether a master sends asks to host agents' instances only when none of its own is free.</param>
internal sealed record ClusterSettings(bool Enabled, string SystemName, string Hostname, int Port, IReadOnlyList<DnsEndPoint> SeedNodes, string Credentials, bool PreferLocal)
{
    /// <summary>The role of a master's node.</summary>
    public const string MasterRole = "packet-master";

    /// <summary>The role of a host agent's node.</summary>
    public const string HostRole = "packet-host";

    /// <exception cref="ConfigurationException">A setting is missing or malformed.</exception>
    public static ClusterSettings From(Config config)
    {
        var enabled = ConfigReader.Bool(config, "packet.cluster.enabled");
        var name = ConfigReader.Text(config, "packet.cluster.system-name");
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || !char.IsAsciiLetterOrDigit(name[0]))
            throw new ConfigurationException($"PacketAkka setting 'packet.cluster.system-name' must be letters, digits, '-' and '_', starting with a letter or digit, not \"{name}\"");
        var hostname = ConfigReader.Text(config, "packet.cluster.hostname");
        if (Uri.CheckHostName(hostname) == UriHostNameType.Unknown)
            throw new ConfigurationException($"PacketAkka setting 'packet.cluster.hostname' must be a host name or an IP address, not \"{hostname}\"");
        var port = ConfigReader.Int(config, "packet.cluster.port");
        if (port is < 0 or > IPEndPoint.MaxPort) throw new ConfigurationException($"PacketAkka setting 'packet.cluster.port' must be 0 to 65535, not {port}");
        var seeds = ConfigReader.List(config, "packet.cluster.seed-nodes").Select(seed => Seed(seed, "PacketAkka setting 'packet.cluster.seed-nodes'")).ToArray();
        var credentials = ConfigReader.Text(config, "packet.cluster.credentials");
        if (enabled && credentials.Length == 0)
            throw new ConfigurationException("PacketAkka setting 'packet.cluster.credentials' is empty: a cluster node needs the folder `dotnet Packet.WorkerHost.dll credentials DIR` made");
        if (credentials.Length > 0 && !Directory.Exists(credentials))
            throw new ConfigurationException($"PacketAkka setting 'packet.cluster.credentials' names \"{credentials}\", which is not a folder");
        return new ClusterSettings(enabled, name, hostname, port, seeds, credentials, ConfigReader.Bool(config, "packet.cluster.prefer-local"));
    }

    /// <summary>A seed node's <c>host:port</c>.</summary>
    /// <exception cref="ConfigurationException"><paramref name="text"/> is not one; the message starts with <paramref name="what"/>.</exception>
    public static DnsEndPoint Seed(string text, string what)
    {
        var colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon].Trim('[', ']') : "";
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 1 or > IPEndPoint.MaxPort)
            throw new ConfigurationException($"{what}: \"{text}\" is not host:port");
        return new DnsEndPoint(host, port);
    }
}
