using System.Diagnostics;

namespace Packet.Tests.Support;

/// <summary>
/// Another "machine" for a test: a network namespace joined to this one by a veth pair, on a /30 of
/// 198.18.0.0/15 (the range set aside for network tests, RFC 2544). This side's address is <see cref="Here"/>,
/// the namespace's <see cref="There"/>; both exist only while it does. <see cref="Block"/> drops traffic one
/// way or both with blackhole routes, as a partition does. Needs root: tests skip without it (RootFact), and so does
/// the bench, which links this file for its failover trials.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private const string Prefix = "pkt-";
    private bool _blockedHere, _blockedThere;

    private NetworkNamespace(int subnet, bool routed)
    {
        Subnet = subnet;
        Name = $"{Prefix}{Environment.ProcessId}-{subnet}";
        Here = $"198.18.{subnet}.1";
        There = $"198.18.{subnet}.2";
        Routed = routed;
    }

    /// <summary>The namespace's name, for <c>ip netns exec</c>.</summary>
    public string Name { get; }

    /// <summary>The third byte of the /30: 198.18.<c>Subnet</c>.0.</summary>
    public int Subnet { get; }

    /// <summary>This side's address, on the veth end left here.</summary>
    public string Here { get; }

    /// <summary>The namespace's address.</summary>
    public string There { get; }

    /// <summary>Whether the namespace reaches the other routed namespaces, through this side, as machines on one LAN do.</summary>
    public bool Routed { get; }

    /// <summary>Whether namespaces can be made here: running as root, with <c>ip</c>.</summary>
    public static bool Available => Environment.IsPrivilegedProcess && (File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip"));

    /// <summary>
    /// Makes a namespace on a /30 no other test uses, after removing those left by test processes that died.
    /// When <paramref name="routed"/>, it reaches the other routed namespaces through this side, which forwards
    /// between their veth pairs (on those interfaces only), and <see cref="Block"/> cuts it off from them too.
    /// </summary>
    public static NetworkNamespace Create(bool routed = false)
    {
        RemoveStale();
        var used = Run("ip", "-o", "addr", "show").Split('\n').Where(line => line.Contains(" 198.18.")).ToArray();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var subnet = Random.Shared.Next(1, 255);
            if (used.Any(line => line.Contains($" 198.18.{subnet}."))) continue;
            var network = new NetworkNamespace(subnet, routed);
            try
            {
                network.Build();
                return network;
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        throw new InvalidOperationException("no free /30 in 198.18.0.0/16 after 20 tries");
    }

    private void Build()
    {
        var (here, there) = ($"pkt{Subnet}a", $"pkt{Subnet}b");
        Run("ip", "netns", "add", Name);
        Run("ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", Name);
        Run("ip", "addr", "add", $"{Here}/30", "dev", here);
        Run("ip", "link", "set", here, "up");
        Run("ip", "netns", "exec", Name, "ip", "addr", "add", $"{There}/30", "dev", there);
        Run("ip", "netns", "exec", Name, "ip", "link", "set", there, "up");
        Run("ip", "netns", "exec", Name, "ip", "link", "set", "lo", "up"); // its WorkerHosts' loopback links
        if (!Routed) return;
        Run("ip", "netns", "exec", Name, "ip", "route", "add", "default", "via", Here);
        Run("sysctl", "-q", "-w", $"net.ipv4.conf.{here}.forwarding=1"); // this interface only: the machine's own setting is left alone
    }

    /// <summary>Which way a partition drops packets.</summary>
    public enum Way
    {
        /// <summary>From here to the namespace: a blackhole route here.</summary>
        ToThere,

        /// <summary>From the namespace to here (and to the other routed namespaces): blackhole routes there.</summary>
        ToHere,

        /// <summary>Both.</summary>
        Both,
    }

    /// <summary>Drops every packet sent <paramref name="way"/>, silently, as a cut cable or a dropping firewall does.</summary>
    public void Block(Way way)
    {
        if (way != Way.ToHere && !_blockedHere)
        {
            Run("ip", "route", "add", "blackhole", $"{There}/32");
            _blockedHere = true;
        }
        if (way != Way.ToThere && !_blockedThere)
        {
            Run("ip", "netns", "exec", Name, "ip", "route", "add", "blackhole", $"{Here}/32");
            if (Routed) Run("ip", "netns", "exec", Name, "ip", "route", "add", "blackhole", "198.18.0.0/15");
            _blockedThere = true;
        }
    }

    /// <summary>Removes the blackhole routes: the partition heals.</summary>
    public void Heal()
    {
        if (_blockedHere) Run("ip", "route", "del", "blackhole", $"{There}/32");
        if (_blockedThere) Run("ip", "netns", "exec", Name, "ip", "route", "del", "blackhole", $"{Here}/32");
        if (_blockedThere && Routed) Run("ip", "netns", "exec", Name, "ip", "route", "del", "blackhole", "198.18.0.0/15");
        _blockedHere = _blockedThere = false;
    }

    /// <summary>Removes the namespace, the veth pair with the address here, and the route here; the processes in it must have ended.</summary>
    public void Dispose()
    {
        Remove(Name, Subnet);
        _blockedHere = _blockedThere = false;
    }

    private static void Remove(string name, int subnet)
    {
        TryRun("ip", "route", "del", "blackhole", $"198.18.{subnet}.2/32"); // a route here outlives the veth pair
        // The pair goes with its end here. Deleting the namespace alone would not take it at once: the kernel keeps
        // a namespace while sockets in it still close, which a partition can stretch to minutes.
        TryRun("ip", "link", "del", $"pkt{subnet}a");
        TryRun("ip", "netns", "del", name);
    }

    /// <summary>Namespaces of test processes that are gone (killed before they could remove theirs).</summary>
    private static void RemoveStale()
    {
        foreach (var name in Run("ip", "netns", "list").Split('\n').Select(line => line.Split(' ')[0]).Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var parts = name[Prefix.Length..].Split('-');
            if (parts.Length == 2 && int.TryParse(parts[0], out var pid) && int.TryParse(parts[1], out var subnet) && !Directory.Exists($"/proc/{pid}"))
                Remove(name, subnet);
        }
    }

    private static string Run(params string[] command)
    {
        var (code, output) = Execute(command);
        return code == 0 ? output : throw new InvalidOperationException($"`{string.Join(' ', command)}` failed with {code}: {output}");
    }

    private static void TryRun(params string[] command) => Execute(command);

    private static (int Code, string Output) Execute(string[] command)
    {
        using var process = Process.Start(new ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            process.Kill();
            throw new TimeoutException($"`{string.Join(' ', command)}` took over 10 s");
        }
        return (process.ExitCode, output.Result + error.Result);
    }
}
