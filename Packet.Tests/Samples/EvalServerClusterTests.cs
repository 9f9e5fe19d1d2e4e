using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Packet.Actors.Cluster;
using Packet.Tests.Configuration;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// The EvalServer sample with <c>--cluster-port --credentials --no-local-workers</c>, and a host agent
/// (<c>Packet.WorkerHost.dll join</c>) that runs the eval workers: each a process of its own, as a user runs
/// them, with a client on a real socket. Every process started is killed when the test ends.
/// </summary>
public sealed class EvalServerClusterTests : IDisposable
{
    private readonly string _credentials = Path.Combine(Path.GetTempPath(), $"packet-credentials-{Guid.NewGuid():N}");
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.Dispose();
        }
        if (Directory.Exists(_credentials)) Directory.Delete(_credentials, recursive: true);
    }

    /// <summary>Starts <c>dotnet exec</c> <paramref name="args"/>; its standard output lines go to <paramref name="lines"/>.</summary>
    private Process Start(List<string> lines, params string[] args)
    {
        var process = Process.Start(new ProcessStartInfo("dotnet", ["exec", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        _processes.Add(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (lines) lines.Add(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (lines) lines.Add(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<string> Line(List<string> lines, Func<string, bool> wanted, string what) =>
        await Task.Run(async () =>
        {
            while (true)
            {
                lock (lines)
                    if (lines.FirstOrDefault(wanted) is { } line) return line;
                await Task.Delay(20);
            }
        }).Within(what, TimeSpan.FromSeconds(60));

    /// <summary>What <c>printf 'LINE\n' | nc -q1 127.0.0.1 PORT</c> prints.</summary>
    private static Task<string> EvalAsync(int port, string line) => Loopback.LineExchangeAsync(port, line);

    [Fact]
    public async Task The_eval_server_without_local_workers_answers_from_a_host_agents_and_names_the_agent_when_it_is_killed()
    {
        ClusterCredentials.Create(_credentials, []);
        var server = ConfigurationTests.SampleDll("EvalServer");
        var master = new List<string>();
        Start(master, server, "--port", "0", "--cluster-port", "0", "--credentials", _credentials, "--no-local-workers");
        var listening = await Line(master, l => l.StartsWith("listening on ", StringComparison.Ordinal), "EvalServer to listen");
        var port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..]);
        var started = await Line(master, l => l.Contains("cluster akka.ssl.tcp://", StringComparison.Ordinal), "EvalServer to log its cluster address");
        var clusterPort = int.Parse(Regex.Match(started, @"cluster akka\.ssl\.tcp://packet-cluster@127\.0\.0\.1:(\d+)").Groups[1].Value);

        Assert.StartsWith("error: ", await EvalAsync(port, "1+1")); // no eval_worker anywhere yet

        var agentOutput = new List<string>();
        var agent = Start(agentOutput, Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), "join",
            "--seed", $"127.0.0.1:{clusterPort}", "--root", Path.Combine(Path.GetDirectoryName(server)!, "worker"), "--credentials", _credentials);
        await Bounded.Until(async () => await EvalAsync(port, "1+1") == "2\n", "the agent's eval_worker to answer through the server", TimeSpan.FromSeconds(90));
        Assert.Equal("42\n", await EvalAsync(port, "6*7"));

        var hosts = Processes.Children(agent.Id);
        Processes.Signal(agent.Id, 9);
        // The agent's link drops at once, well within the sample's 5 s ask-timeout: the ask fails naming it.
        var answer = await EvalAsync(port, "2+2");
        Assert.Matches(@"^error: host akka\.ssl\.tcp://packet-cluster@127\.0\.0\.1:\d+ is unreachable(: its link dropped)?\n$", answer);
        foreach (var pid in hosts) await Hosts.GoneAsync(pid);
    }

    [Fact]
    public async Task When_the_master_dies_its_agent_downs_itself_exits_with_1_and_leaves_no_WorkerHost()
    {
        ClusterCredentials.Create(_credentials, []);
        var server = ConfigurationTests.SampleDll("EvalServer");
        var master = new List<string>();
        var masterProcess = Start(master, server, "--port", "0", "--cluster-port", "0", "--credentials", _credentials, "--no-local-workers");
        var listening = await Line(master, l => l.StartsWith("listening on ", StringComparison.Ordinal), "EvalServer to listen");
        var port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..]);
        var started = await Line(master, l => l.Contains("cluster akka.ssl.tcp://", StringComparison.Ordinal), "EvalServer to log its cluster address");
        var clusterPort = int.Parse(Regex.Match(started, @"cluster akka\.ssl\.tcp://packet-cluster@127\.0\.0\.1:(\d+)").Groups[1].Value);
        var agentOutput = new List<string>();
        var agent = Start(agentOutput, Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), "join",
            "--seed", $"127.0.0.1:{clusterPort}", "--root", Path.Combine(Path.GetDirectoryName(server)!, "worker"), "--credentials", _credentials);
        await Bounded.Until(async () => await EvalAsync(port, "1+1") == "2\n", "the agent's eval_worker to answer through the server", TimeSpan.FromSeconds(90));
        var hosts = Processes.Children(agent.Id);

        // The seed, and the only master, dies. Counted over masters, the agent's side holds none of one: once
        // the split-brain resolver's stable-after (20 s) has passed, it downs itself, for a process manager to
        // start it again, to join the master once it is back.
        Processes.Signal(masterProcess.Id, 9);
        await agent.WaitForExitAsync().Within("the agent to down itself and exit", TimeSpan.FromSeconds(90));

        Assert.Equal(1, agent.ExitCode);
        lock (agentOutput) Assert.Contains(agentOutput, line => line.Contains("the cluster node ended", StringComparison.Ordinal));
        foreach (var pid in hosts) await Hosts.GoneAsync(pid);
    }

    [Fact]
    public async Task After_the_seed_master_dies_and_restarts_at_its_address_its_restarted_agent_joins_it_and_answers_again()
    {
        ClusterCredentials.Create(_credentials, []);
        var server = ConfigurationTests.SampleDll("EvalServer");
        var clusterPort = Loopback.FreePort(); // the master comes back at the same address, as under a process manager
        string[] masterArgs = [server, "--port", "0", "--cluster-port", $"{clusterPort}", "--credentials", _credentials, "--no-local-workers"];
        string[] agentArgs = [Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), "join",
            "--seed", $"127.0.0.1:{clusterPort}", "--root", Path.Combine(Path.GetDirectoryName(server)!, "worker"), "--credentials", _credentials];
        var first = new List<string>();
        var master = Start(first, masterArgs);
        var port = await ListeningPort(first);
        var agent = Start([], agentArgs);
        await Bounded.Until(async () => await EvalAsync(port, "1+1") == "2\n", "the agent's eval_worker to answer through the server", TimeSpan.FromSeconds(90));

        // The seed dies and is started again at once: a new cluster at the old address. The agent, still in the old
        // one, never takes the new master for the old; it downs itself (no master on its side) and exits with 1.
        Processes.Signal(master.Id, 9);
        var second = new List<string>();
        Start(second, masterArgs);
        port = await ListeningPort(second);
        await agent.WaitForExitAsync().Within("the agent to down itself and exit", TimeSpan.FromSeconds(90));
        Assert.Equal(1, agent.ExitCode);
        Assert.StartsWith("error: ", await EvalAsync(port, "1+1")); // the new master has no eval_worker yet

        // Started again, as a process manager does, it joins the new master through the same seed.
        Start([], agentArgs);
        await Bounded.Until(async () => await EvalAsync(port, "2+2") == "4\n", "the restarted agent to answer through the restarted master", TimeSpan.FromSeconds(90));
    }

    private static async Task<int> ListeningPort(List<string> lines)
    {
        var listening = await Line(lines, l => l.StartsWith("listening on ", StringComparison.Ordinal), "EvalServer to listen");
        return int.Parse(listening[(listening.LastIndexOf(':') + 1)..]);
    }
}
