using System.Diagnostics;
using System.Globalization;
using System.Text;
using Packet.Bench.Load;
using Packet.Tests.Support;

namespace Packet.Bench.Cluster;

/// <summary>
/// Scale-out on Akka.Cluster: a master with no workers of its own (<see cref="ClusterMaster"/>) and 1, 2
/// and 3 host agents on this machine, each its own process with its own WorkerHosts.
/// <list type="bullet">
/// <item><b>Scaling</b>: lines/s and latency through the agents' workers, driven by the native load
/// generator, for a worker that sleeps 5 ms, one that computes, and one that does nothing, each beside
/// the same worker in this machine's own WorkerHosts with no cluster: the price of the extra hop.</item>
/// <item><b>Failover</b>: with two agents under load, one is killed (SIGKILL), frozen (SIGSTOP, then
/// SIGCONT), cut off both ways by blackhole routes in network namespaces (then healed; as root only) or
/// stopped (SIGTERM), trial after trial; each trial counts the asks that failed, how long after the
/// signal the last of them failed, and the asks that got no outcome at all (must be 0).</item>
/// </list>
/// </summary>
public static class ClusterBench
{
    /// <summary>The bench's mode.</summary>
    public const string Mode = "cluster";

    private static readonly string[] Workers = ["bench_sleep", "bench_cpu", "bench_noop"];

    public static async Task<int> RunAsync(bool quick, int trials, double seconds, string? resultsFolder)
    {
        var credentials = Directory.CreateTempSubdirectory("packet-bench-cluster-").FullName;
        try
        {
            Agent.Credentials(Path.Combine(credentials, "creds"));
            credentials = Path.Combine(credentials, "creds");
            var duration = TimeSpan.FromSeconds(quick ? 1 : seconds);
            var runs = quick ? 1 : 3;
            var scaling = new List<string>();
            foreach (var worker in quick ? ["bench_noop"] : Workers) scaling.AddRange(await ScaleAsync(worker, credentials, duration, runs, agents: quick ? 2 : 3));
            var failover = new List<string>();
            foreach (var kind in new[] { Loss.Kill, Loss.Stop, Loss.Blackhole, Loss.Term }) failover.Add(await FailoverAsync(kind, credentials, quick ? 1 : trials));
            var report = Report(scaling, failover, duration, runs, quick ? 1 : trials);
            Console.WriteLine(report);
            if (resultsFolder is not null && !quick) await File.WriteAllTextAsync(Path.Combine(resultsFolder, "cluster.md"), report);
            return failover.Any(row => row.Contains("**LOST**", StringComparison.Ordinal) || row.Contains("**ORPHANS**", StringComparison.Ordinal)) ? 1 : 0;
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(credentials)!, recursive: true);
        }
    }

    // ---- scaling -----------------------------------------------------------------------------------

    /// <summary>
    /// The load: one line in flight per connection, 50 connections (200 for the no-op worker, to find the ceiling).
    /// Never more than one: answers come in the order asks end, and with several instances that is not the order they were made.
    /// </summary>
    private static string[] Load(string worker) =>
        ["echo", "--lines", "--conns", worker == "bench_noop" ? "200" : "50", "--depth", "1", "--size", "64"];

    private static async Task<IEnumerable<string>> ScaleAsync(string worker, string credentials, TimeSpan duration, int runs, int agents)
    {
        var rows = new List<string>();
        using (var local = await ClusterMaster.StartAsync(null, worker))
        {
            await local.InstancesAsync(Instances(worker), TimeSpan.FromSeconds(90));
            rows.Add(await CellAsync(local.Port, worker, "this machine's WorkerHosts, no cluster", duration, runs));
        }
        using var master = await ClusterMaster.StartAsync(credentials, worker);
        var started = new List<Agent>();
        try
        {
            for (var count = 1; count <= agents; count++)
            {
                started.Add(Agent.Start(master, credentials));
                await Joined(master, count, started);
                rows.Add(await CellAsync(master.Port, worker, $"{count} agent{(count == 1 ? "" : "s")}", duration, runs));
            }
        }
        finally
        {
            foreach (var agent in started) agent.Dispose();
        }
        return rows;
    }

    /// <summary>Waits for <paramref name="count"/> agents' instances to be running at the master; on failure, shows what the agents said.</summary>
    internal static async Task Joined(ClusterMaster master, int count, List<Agent> agents)
    {
        try
        {
            await master.InstancesAsync(count, TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; the master's last lines:\n{master.Tail}\n---\nthe agents' last lines:\n{string.Join("\n---\n", agents.Select(a => a.Tail))}", e);
        }
    }

    /// <summary>
    /// The load before a row's measured runs. After 5 s, the first run of every row was still the lowest, by up to half; after
    /// 15 s, a row's runs agree within about 15% (bench/README.md, "What the last full run showed").
    /// </summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(15);

    /// <summary>The WorkerHosts one agent (or the local baseline) runs of <paramref name="worker"/> (see cluster-workers/BenchWorkers.cs).</summary>
    private static int Instances(string worker) => worker switch { "bench_sleep" => 4, "bench_cpu" => 2, _ => 1 };

    /// <summary>
    /// One row: <see cref="WarmUp"/> of load first (the agents' WorkerHosts started seconds before), then <paramref name="runs"/>
    /// measured runs; 1 s of it in a quick run.
    /// </summary>
    private static async Task<string> CellAsync(int port, string worker, string where, TimeSpan duration, int runs)
    {
        await Measure(port, worker, runs == 1 ? TimeSpan.FromSeconds(1) : WarmUp);
        var results = new List<CellResult>();
        for (var run = 0; run < runs; run++) results.Add(await Measure(port, worker, duration));
        var row = Row(worker, where, results);
        Console.Error.WriteLine($"cluster: {row}");
        return row;
    }

    private static async Task<CellResult> Measure(int port, string worker, TimeSpan duration)
    {
        var json = await NativeLoadGenerator.RunAsync([.. Load(worker), "--port", $"{port}", "--seconds", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture)],
            duration + TimeSpan.FromMinutes(1));
        return new CellResult(json.GetProperty("msgs_per_s").GetDouble(), json.GetProperty("messages_all").GetInt64(),
            json.GetProperty("p50_us").GetDouble(), json.GetProperty("p99_us").GetDouble(), null, null);
    }

    private static string Row(string worker, string where, List<CellResult> results)
    {
        double Median(Func<CellResult, double?> of) => results.Select(r => of(r) ?? 0).Order().ElementAt(results.Count / 2);
        var each = string.Join(", ", results.Select(r => r.Value.ToString("N0", CultureInfo.InvariantCulture)));
        return $"| {worker} | {where} | {Median(r => r.Value):N0} ({each}) | {Median(r => r.P50) / 1000:0.0} | {Median(r => r.P99) / 1000:0.0} |";
    }

    // ---- failover ----------------------------------------------------------------------------------

    private enum Loss
    {
        Kill,
        Stop,
        Blackhole,
        Term,
    }

    /// <summary>
    /// One trial's figures: asks that failed, the last failure's delay after the signal, asks answered, asks with no
    /// outcome, and the victim's WorkerHosts still running 10 s after it died or exited (orphans).
    /// </summary>
    private sealed record Trial(int Failed, TimeSpan? LastFailure, long Answered, int Lost, int OtherErrors, int Orphans);

    private static async Task<string> FailoverAsync(Loss loss, string credentials, int trials)
    {
        if (loss == Loss.Blackhole && !NetworkNamespace.Available) return $"| {Name(loss)} | skipped: needs root and iproute2, for network namespaces | | | | | | | | |";
        // For a blackhole, each agent is on a "machine" of its own (a network namespace, routed to the other as on a LAN),
        // and the master at the first one's address here.
        var networks = new List<NetworkNamespace>();
        if (loss == Loss.Blackhole)
            for (var i = 0; i < 2; i++) networks.Add(NetworkNamespace.Create(routed: true));
        var results = new List<Trial>();
        try
        {
            using var master = await ClusterMaster.StartAsync(credentials, "bench_sleep", networks.Count > 0 ? networks[0].Here : "127.0.0.1");
            var agents = Enumerable.Range(0, 2).Select(i => Agent.Start(master, credentials, networks.Count > 0 ? networks[i] : null)).ToList();
            try
            {
                await Joined(master, 2, agents);
                for (var trial = 0; trial < trials; trial++)
                {
                    var victim = agents[trial % 2];
                    results.Add(await TrialAsync(loss, master, victim, networks.Count > 0 ? networks[trial % 2] : null));
                    Console.Error.WriteLine($"cluster: {loss} trial {trial + 1}: {results[^1]}");
                    if (loss is Loss.Kill or Loss.Term)
                    {
                        victim.Dispose();
                        agents[trial % 2] = Agent.Start(master, credentials);
                    }
                    await Joined(master, 2, agents); // a killed agent's member is downed after stable-after (20 s) first
                }
            }
            finally
            {
                foreach (var agent in agents) agent.Dispose();
            }
        }
        finally
        {
            foreach (var network in networks) network.Dispose(); // after its agent has been killed
        }
        var failed = results.Select(r => r.Failed).Order().ToArray();
        var delays = results.Where(r => r.LastFailure is not null).Select(r => r.LastFailure!.Value.TotalSeconds).Order().ToArray();
        var lost = results.Sum(r => r.Lost);
        string Seconds(double[] sorted, double q) => sorted.Length == 0 ? "-" : $"{sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)]:0.00}";
        var orphans = results.Sum(r => r.Orphans);
        return $"| {Name(loss)} | {results.Count} | {failed[failed.Length / 2]} ({failed.Min()}-{failed.Max()}) | {Seconds(delays, 0.5)} | {Seconds(delays, 0.95)} | {(delays.Length == 0 ? "-" : $"{delays.Max():0.00}")} | " +
               $"{results.Sum(r => r.Answered):N0} | {results.Sum(r => r.OtherErrors)} | {(lost == 0 ? "0" : $"**LOST** {lost}")} | " +
               $"{(loss is Loss.Kill or Loss.Term ? orphans == 0 ? "0" : $"**ORPHANS** {orphans}" : "-")} |";
    }

    private static string Name(Loss loss) => loss switch
    {
        Loss.Kill => "SIGKILL",
        Loss.Stop => "SIGSTOP (SIGCONT once found)",
        Loss.Blackhole => "blackhole both ways (healed once found)",
        _ => "SIGTERM (drains)",
    };

    /// <summary>
    /// 20 clients ask in a loop (one line in flight each); after 1 s the victim gets its signal, or its
    /// <paramref name="network"/> is cut off both ways. The trial ends 2 s after the master stops counting it
    /// running (for SIGTERM, after it exits); then the clients stop asking, and every ask they made must get
    /// its outcome within the ask-timeout (30 s). A killed or stopped victim's WorkerHosts must end by themselves.
    /// </summary>
    private static async Task<Trial> TrialAsync(Loss loss, ClusterMaster master, Agent victim, NetworkNamespace? network)
    {
        var clients = new AskingClients(master.Port, 20);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var hosts = Processes.Children(victim.Pid);
        var signalled = clients.Clock.Elapsed;
        if (loss == Loss.Blackhole) network!.Block(NetworkNamespace.Way.Both);
        else Processes.Signal(victim.Pid, loss switch { Loss.Kill => 9, Loss.Stop => Processes.SIGSTOP, _ => Processes.SIGTERM });
        try
        {
            if (loss == Loss.Term) await victim.ExitAsync(TimeSpan.FromSeconds(60));
            else await master.InstancesAsync(1, TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            if (loss == Loss.Stop) Processes.Signal(victim.Pid, Processes.SIGCONT);
            if (loss == Loss.Blackhole) network!.Heal();
        }
        var got = await clients.StopAsync(TimeSpan.FromSeconds(35));
        var last = got.Failures.Count == 0 ? (TimeSpan?)null : got.Failures.Max() - signalled;
        return new Trial(got.Failures.Count, last, got.Answered, got.Lost, got.Other, loss is Loss.Kill or Loss.Term ? await OrphansAsync(hosts) : 0);
    }

    /// <summary>How many of <paramref name="hosts"/> (a dead agent's WorkerHosts) still run 10 s on; those are then killed.</summary>
    internal static async Task<int> OrphansAsync(int[] hosts)
    {
        bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        for (var waited = 0; waited < 100 && hosts.Any(Alive); waited++) await Task.Delay(100);
        var left = hosts.Where(Alive).ToArray();
        foreach (var pid in left) Processes.Signal(pid, 9);
        return left.Length;
    }

    // ---- the report --------------------------------------------------------------------------------

    private static string Report(List<string> scaling, List<string> failover, TimeSpan duration, int runs, int trials)
    {
        var text = new StringBuilder();
        text.AppendLine("# Scale-out on Akka.Cluster: scaling and failover");
        text.AppendLine();
        text.AppendLine($"Written by `dotnet run -c Release --project bench/Packet.Bench -- cluster` on {DateTime.UtcNow:yyyy-MM-dd}, " +
                        $"{Environment.ProcessorCount} cores. A master with no workers of its own and host agents, each its own process, on this one machine.");
        text.AppendLine();
        text.AppendLine("## Scaling");
        text.AppendLine();
        text.AppendLine($"The native load generator, 64 B lines, one in flight per connection, 50 connections (200 for the no-op worker); {runs} runs of {duration.TotalSeconds:0} s after {(runs == 1 ? 1 : WarmUp.TotalSeconds):0} s of warm-up, median (each run).");
        text.AppendLine("`bench_sleep` sleeps 5 ms (4 WorkerHosts per agent, one ask each at a time); `bench_cpu` computes about 1 ms (2 per agent); `bench_noop` returns its line (1 per agent). " +
                        "The first row of each is the same worker run by a master itself, in as many local WorkerHosts as one agent has, with no cluster.");
        text.AppendLine();
        text.AppendLine("| worker | where | lines/s | p50 ms | p99 ms |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (var row in scaling) text.AppendLine(row);
        text.AppendLine();
        text.AppendLine("## Failover");
        text.AppendLine();
        text.AppendLine($"Two agents serve `bench_sleep` to 20 clients asking in a loop; {trials} trials per row, the victim alternating. " +
                        "\"Failed\" counts the asks that failed naming the lost agent; \"last failure\" is when the last of them failed, after the signal or the cut " +
                        "(median, 95th percentile, most); \"no outcome\" counts the asks that got no answer within 35 s (must be 0); \"WorkerHosts left\" counts " +
                        "a killed or stopped agent's WorkerHosts still running 10 s after it (must be 0: each ends by itself once its agent is gone).");
        text.AppendLine();
        text.AppendLine("| loss | trials | failed asks, median (range) | last failure p50 s | p95 s | max s | answered | other errors | no outcome | WorkerHosts left |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var row in failover) text.AppendLine(row);
        return text.ToString();
    }
}
