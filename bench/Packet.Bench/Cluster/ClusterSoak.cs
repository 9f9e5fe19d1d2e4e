using System.Diagnostics;
using System.Globalization;
using System.Text;
using Packet.Bench.Load;
using Packet.Bench.Soak;
using Packet.Tests.Support;

namespace Packet.Bench.Cluster;

/// <summary>
/// The cluster soak: a master with no workers of its own (<see cref="ClusterMaster"/>) and two host agents
/// serve <c>bench_sleep</c> to 20 clients asking in a loop, 10 of them idempotently, while one agent after
/// the other is killed (SIGKILL), frozen (SIGSTOP, then SIGCONT once the master has found it) or stopped
/// (SIGTERM, which drains), with 5 s of steady load between; a killed or stopped agent is started again.
/// The master's memory, sockets and asks in flight, and the agents' memory, are sampled every 5 s; what the
/// master's managed objects hold after a full garbage collection is read at the start, after the first round of
/// losses, and at the end.
/// </summary>
/// <remarks>
/// It fails (exit code 1, each broken invariant printed) unless: every ask got exactly one outcome, on the
/// connection that asked (its own line, or an error naming the lost host); no idempotent ask failed; the
/// master's asks in flight and connections went back to 0, and its sockets and pipes to their starting
/// level (±10), once the clients stopped; its memory stayed under <see cref="SoakRun.RssBoundMiB"/>; every
/// lost agent was found and every replacement running within 60 s; and a lost agent's WorkerHosts ended by
/// themselves within 10 s.
/// </remarks>
public static class ClusterSoak
{
    /// <summary>The bench's mode.</summary>
    public const string Mode = "cluster-soak";

    private static readonly TimeSpan EventLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);

    /// <summary>One sample: when, the master's memory (MiB), sockets and pipes, asks in flight and connections, and each agent's memory (MiB).</summary>
    private sealed record Sample(TimeSpan At, long MasterMiB, int MasterFds, int Asks, int Connections, long[] AgentMiB);

    /// <summary>Runs for <paramref name="duration"/> (then as long as the event under way takes); writes its report to <paramref name="resultsFile"/> when given.</summary>
    public static async Task<int> RunAsync(TimeSpan duration, string? resultsFile)
    {
        var folder = Directory.CreateTempSubdirectory("packet-cluster-soak-").FullName;
        var failures = new List<string>();
        var samples = new List<Sample>();
        var events = new List<string>();
        var heaps = new List<(string When, (long Live, long Committed) Bytes)>();
        AskingClients.Outcomes? plain = null, idempotent = null;
        int fdsBefore = 0, fdsAfter = 0;
        try
        {
            var credentials = Path.Combine(folder, "creds");
            Agent.Credentials(credentials);
            using var master = await ClusterMaster.StartAsync(credentials, "bench_sleep");
            var agents = new List<Agent> { Agent.Start(master, credentials), Agent.Start(master, credentials) };
            try
            {
                await ClusterBench.Joined(master, 2, agents);
                fdsBefore = SoakRun.ServerFds(master.Pid);
                heaps.Add(("at the start, idle", await master.HeapAsync()));
                var plainClients = new AskingClients(master.Port, 10);
                var idempotentClients = new AskingClients(master.Port, 10, idempotent: true);
                var clock = Stopwatch.StartNew();
                using var sampling = new CancellationTokenSource();
                var sampler = SampleAsync(master, agents, clock, samples, sampling.Token);
                Console.WriteLine($"cluster soak: {duration.TotalSeconds:0} s; master pid {master.Pid}, {fdsBefore} sockets and pipes");
                try
                {
                    for (var round = 0; clock.Elapsed < duration; round++)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(5));
                        var slot = round % 2;
                        var before = (Plain: plainClients.Now().Failures.Count, Idempotent: idempotentClients.Now().Failures.Count);
                        var at = clock.Elapsed;
                        var (what, found, back, orphans) = await LoseAsync(round % 3, master, agents, slot, credentials);
                        var failed = (Plain: plainClients.Now().Failures.Count - before.Plain, Idempotent: idempotentClients.Now().Failures.Count - before.Idempotent);
                        events.Add($"| {at.TotalSeconds:0} | {what} agent {slot + 1} | {found} | {back.TotalSeconds:0.0} | {failed.Plain} | {failed.Idempotent} | {orphans} |");
                        Console.Error.WriteLine($"cluster soak: {events[^1]}");
                        if (orphans > 0) failures.Add($"{orphans} WorkerHosts of the agent lost at {at.TotalSeconds:0} s still ran 10 s after it");
                        if (round == 2) heaps.Add(("after the first round of losses, under load", await master.HeapAsync()));
                    }
                }
                catch (TimeoutException e)
                {
                    failures.Add(e.Message);
                }
                plain = await plainClients.StopAsync(TimeSpan.FromSeconds(35));
                idempotent = await idempotentClients.StopAsync(TimeSpan.FromSeconds(35));
                if (!await SoakRun.Until(() => master.Stats == (0, 0), TimeSpan.FromSeconds(30)))
                    failures.Add($"the master's asks in flight and connections did not go back to 0 once the clients stopped: {master.Stats}");
                if (!await SoakRun.Until(() => Math.Abs((fdsAfter = SoakRun.ServerFds(master.Pid)) - fdsBefore) <= 10, TimeSpan.FromSeconds(30)))
                    failures.Add($"the master's sockets and pipes did not return to their starting level: {fdsBefore} before, {fdsAfter} after");
                heaps.Add(("at the end, idle", await master.HeapAsync()));
                await sampling.CancelAsync();
                await sampler;
            }
            finally
            {
                foreach (var agent in agents) agent.Dispose();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        if (plain is not null && idempotent is not null)
        {
            if (plain.Lost + idempotent.Lost > 0) failures.Add($"{plain.Lost + idempotent.Lost} asks got no outcome within 35 s");
            if (plain.Other + idempotent.Other > 0)
                failures.Add($"{plain.Other + idempotent.Other} answers were neither the line asked nor a lost host's error, for example: {string.Join("; ", plain.OtherExamples.Concat(idempotent.OtherExamples).Take(5))}");
            if (idempotent.Failures.Count > 0) failures.Add($"{idempotent.Failures.Count} idempotent asks failed: they should have run again on the other agent");
        }
        var maxMiB = samples.Select(s => s.MasterMiB).DefaultIfEmpty(0).Max();
        if (maxMiB > SoakRun.RssBoundMiB) failures.Add($"the master's resident memory reached {maxMiB} MiB, above the bound of {SoakRun.RssBoundMiB} MiB");
        var report = Report(duration, events, samples, heaps, plain, idempotent, fdsBefore, fdsAfter, failures);
        Console.WriteLine(report);
        if (resultsFile is not null) await File.WriteAllTextAsync(resultsFile, report + "\n");
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>
    /// Loses the agent in <paramref name="slot"/> in the <paramref name="kind"/>th way (SIGKILL, SIGSTOP, SIGTERM), and
    /// waits for the master to have two running instances again, with a new agent in the slot if it ended. Returns what
    /// was done, how long the master took to stop counting the agent running (or the agent to exit, after SIGTERM), how
    /// long until two instances ran again, and the lost agent's WorkerHosts still running 10 s after it ended.
    /// </summary>
    private static async Task<(string What, string Found, TimeSpan Back, int Orphans)> LoseAsync(int kind, ClusterMaster master, List<Agent> agents, int slot, string credentials)
    {
        var victim = agents[slot];
        var hosts = Processes.Children(victim.Pid);
        var clock = Stopwatch.StartNew();
        string what, found;
        var orphans = 0;
        switch (kind)
        {
            case 0:
                what = "SIGKILL";
                Processes.Signal(victim.Pid, 9);
                found = $"{(await master.InstancesAsync(1, EventLimit)).TotalSeconds:0.0} s";
                break;
            case 1:
                what = "SIGSTOP, SIGCONT";
                Processes.Signal(victim.Pid, Processes.SIGSTOP);
                try
                {
                    found = $"{(await master.InstancesAsync(1, EventLimit)).TotalSeconds:0.0} s";
                }
                finally
                {
                    Processes.Signal(victim.Pid, Processes.SIGCONT);
                }
                break;
            default:
                what = "SIGTERM";
                Processes.Signal(victim.Pid, Processes.SIGTERM);
                await victim.ExitAsync(EventLimit);
                found = $"exited with {victim.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s";
                if (victim.ExitCode != 0) throw new TimeoutException($"an agent stopped with SIGTERM exited with {victim.ExitCode}, not 0");
                break;
        }
        if (kind != 1)
        {
            victim.Dispose();
            orphans = await ClusterBench.OrphansAsync(hosts);
            agents[slot] = Agent.Start(master, credentials);
        }
        var lost = clock.Elapsed;
        await ClusterBench.Joined(master, 2, agents); // a killed agent's member is downed after stable-after (20 s) first
        return (what, found, clock.Elapsed - lost, orphans);
    }

    /// <summary>Samples the master and the agents every 5 s until <paramref name="stop"/>, and once more then.</summary>
    private static async Task SampleAsync(ClusterMaster master, List<Agent> agents, Stopwatch clock, List<Sample> samples, CancellationToken stop)
    {
        while (true)
        {
            var (asks, connections) = master.Stats;
            var agentMiB = agents.ToArray().Select(Rss).ToArray();
            lock (samples) samples.Add(new Sample(clock.Elapsed, ProcessStats.RssKiB(master.Pid) / 1024, SoakRun.ServerFds(master.Pid), asks, connections, agentMiB));
            if (stop.IsCancellationRequested) return;
            await Task.WhenAny(Task.Delay(SampleEvery, stop));
        }
    }

    /// <summary>An agent's resident memory in MiB, 0 once it has gone.</summary>
    private static long Rss(Agent agent)
    {
        try
        {
            return agent.HasExited ? 0 : ProcessStats.RssKiB(agent.Pid) / 1024;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            return 0;
        }
    }

    private static string Report(TimeSpan duration, List<string> events, List<Sample> samples, List<(string When, (long Live, long Committed) Bytes)> heaps, AskingClients.Outcomes? plain, AskingClients.Outcomes? idempotent,
        int fdsBefore, int fdsAfter, List<string> failures)
    {
        var text = new StringBuilder();
        text.AppendLine("# Scale-out on Akka.Cluster: the soak");
        text.AppendLine();
        var length = duration.TotalSeconds % 60 == 0 ? $"--minutes {duration.TotalMinutes:0}" : $"--seconds {duration.TotalSeconds:0}";
        text.AppendLine($"Written by `dotnet run -c Release --project bench/Packet.Bench -- cluster-soak {length}` on {DateTime.UtcNow:yyyy-MM-dd}, " +
                        $"{Environment.ProcessorCount} cores. A master with no workers of its own and two host agents serve `bench_sleep` (5 ms) to 20 clients " +
                        "asking in a loop, one line in flight each, 10 of them idempotently; one agent after the other is killed, frozen or stopped, with 5 s of steady load between.");
        text.AppendLine();
        text.AppendLine("## Losses");
        text.AppendLine();
        text.AppendLine("\"Found\" is how long the master took to stop counting the agent running (after SIGTERM, how long the agent took to drain and exit); " +
                        "\"back\" how long after that two instances ran again (a new agent, after SIGKILL or SIGTERM: a killed agent's member is downed after " +
                        "stable-after, 20 s, first); then the asks that failed during the event, and the lost agent's WorkerHosts still running 10 s after it.");
        text.AppendLine();
        text.AppendLine("| at s | loss | found | back s | failed asks | failed idempotent asks | WorkerHosts left |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var line in events) text.AppendLine(line);
        text.AppendLine();
        text.AppendLine("## Memory and sockets");
        text.AppendLine();
        text.AppendLine($"Resident memory (MiB) of the master and of each agent (the current process in its slot), the master's sockets and pipes ({fdsBefore} at the start, " +
                        $"{fdsAfter} at the end), its asks in flight and connections; about 20 of the samples taken every {SampleEvery.TotalSeconds:0} s.");
        text.AppendLine();
        text.AppendLine("| at s | master MiB | agents MiB | master sockets and pipes | asks in flight | connections |");
        text.AppendLine("|---|---|---|---|---|---|");
        var every = Math.Max(1, samples.Count / 20);
        foreach (var s in samples.Where((_, i) => i % every == 0 || i == samples.Count - 1))
            text.AppendLine($"| {s.At.TotalSeconds:0} | {s.MasterMiB} | {string.Join(", ", s.AgentMiB)} | {s.MasterFds} | {s.Asks} | {s.Connections} |");
        var half = samples.Count / 2;
        static string MiB(long bytes) => $"{bytes / 1024.0 / 1024:0.0}";
        long Max(IEnumerable<Sample> of) => of.Select(s => s.MasterMiB).DefaultIfEmpty(0).Max();
        text.AppendLine();
        text.AppendLine($"The master's memory: at most {Max(samples.Take(half))} MiB in the first half, {Max(samples.Skip(half))} MiB in the second (bound {SoakRun.RssBoundMiB} MiB). " +
                        "What its managed objects held after a full garbage collection, and what the garbage collector kept committed then: " +
                        string.Join("; ", heaps.Select(h => $"{MiB(h.Bytes.Live)} and {MiB(h.Bytes.Committed)} MiB {h.When}")) + ".");
        text.AppendLine();
        text.AppendLine("## Asks");
        text.AppendLine();
        string Line(string who, AskingClients.Outcomes? got) => got is null
            ? $"- {who}: the run ended before the clients stopped"
            : $"- {who}: {got.Answered.ToString("N0", CultureInfo.InvariantCulture)} answered, {got.Failures.Count} failed naming a lost host, {got.Other} other errors, {got.Lost} without an outcome";
        text.AppendLine(Line("10 clients", plain));
        text.AppendLine(Line("10 idempotent clients", idempotent));
        text.AppendLine();
        text.Append(failures.Count > 0 ? $"FAILED: {failures.Count} broken invariant(s):\n- " + string.Join("\n- ", failures) : "PASSED: every invariant held");
        return text.ToString();
    }
}
