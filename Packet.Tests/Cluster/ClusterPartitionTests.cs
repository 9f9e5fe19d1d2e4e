using System.Diagnostics;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Cluster;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;
using Xunit.Abstractions;

namespace Packet.Tests.Cluster;

/// <summary>
/// A master here and a host agent on another "machine": a network namespace, joined over TLS with IP
/// addresses in the certificates, and cut off by blackhole routes one way or both. Needs root (CI has it).
/// </summary>
public sealed class ClusterPartitionTests(ITestOutputHelper output) : IDisposable
{
    private readonly NetworkNamespace? _network = NetworkNamespace.Available ? NetworkNamespace.Create() : null;
    private readonly string _credentials = Path.Combine(Path.GetTempPath(), $"packet-credentials-{Guid.NewGuid():N}");
    private readonly string _files = Directory.CreateTempSubdirectory("packet-partition-").FullName; // what the agent's asks write

    public void Dispose()
    {
        _network?.Dispose(); // after each test's agent has been killed
        foreach (var folder in new[] { _credentials, _files })
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private NetworkNamespace Network => _network!;

    /// <summary>A master on this side's address, with no workers of its own, and a host agent in the namespace running the eval sample's, once offered.</summary>
    private async Task<(Reactor Master, HostAgent Agent, string Host)> StartAsync()
    {
        ClusterCredentials.Create(_credentials, [Network.Here, Network.There]);
        var master = Reactor.Start(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            packet.workers.enabled = on
            packet.cluster { enabled = on, hostname = "{{Network.Here}}", port = 0, credentials = "{{_credentials}}" }
            """));
        var agent = new HostAgent(Network, "--seed", $"{Network.Here}:{master.Cluster!.Address.Port}", "--hostname", Network.There,
            "--root", Configuration.ConfigurationTests.EvalWorkers(), "--credentials", _credentials);
        try
        {
            await Bounded.Until(async () => (await master.GetWorkersAsync()).Any(w => w.State == "running"), "the agent's eval_worker to be offered", TimeSpan.FromSeconds(90));
            return (master, agent, agent.Address(master.Cluster));
        }
        catch (TimeoutException e)
        {
            var wrote = await agent.KillAsync();
            agent.Dispose();
            await master.DisposeAsync();
            throw new TimeoutException($"{e.Message}; the agent wrote:\n{wrote}", e);
        }
        catch
        {
            agent.Dispose();
            await master.DisposeAsync();
            throw;
        }
    }

    /// <summary>Two asks that take 20 s, running in the agent's two WorkerHosts.</summary>
    private async Task<Task<object?>[]> HoldBothAsync(Reactor master)
    {
        var started = Enumerable.Range(0, 2).Select(i => Path.Combine(_files, $"started-{i}")).ToArray();
        var held = started.Select(file => master.AskWorkerAsync("eval_worker", $"System.IO.File.WriteAllText(@\"{file}\", \"\"); System.Threading.Thread.Sleep(20000); 0")).ToArray();
        await Bounded.Until(() => started.All(File.Exists), "both asks to be running in the agent's WorkerHosts");
        return held;
    }

    [RootTheory]
    [InlineData(NetworkNamespace.Way.Both)]
    [InlineData(NetworkNamespace.Way.ToThere)]
    [InlineData(NetworkNamespace.Way.ToHere)]
    public async Task A_partition_fails_the_asks_the_agent_held_naming_it_and_once_healed_the_agent_is_used_again(NetworkNamespace.Way way)
    {
        var (master, agent, host) = await StartAsync();
        await using var _ = master;
        using var __ = agent;
        Assert.StartsWith($"akka.ssl.tcp://packet-cluster@{Network.There}:", host);
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("an ask across the veth pair, over TLS", TimeSpan.FromSeconds(60)));

        var held = await HoldBothAsync(master);
        var since = Stopwatch.StartNew();
        Network.Block(way);
        foreach (var ask in held)
            Assert.Contains($"host {host} is unreachable", (await Assert.ThrowsAsync<WorkerException>(() => ask).Within("a held ask to fail", TimeSpan.FromSeconds(15))).Message);
        output.WriteLine($"blocked {way}: the held asks failed {since.Elapsed.TotalSeconds:0.0} s later");
        Assert.Contains($"host {host} is unreachable", (await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("eval_worker", "1+2")).Within("a new ask to fail at once", TimeSpan.FromSeconds(5))).Message);
        Assert.Equal("unreachable", Assert.Single(await master.GetWorkersAsync()).State);

        // Healed before the split-brain resolver decides (stable-after, 20 s): the same member is used again.
        Network.Heal();
        since.Restart();
        await Bounded.Until(async () => (await master.GetWorkersAsync()) is [{ State: "running" }], "the master to see the agent again", TimeSpan.FromSeconds(40));
        output.WriteLine($"healed: the agent was running again {since.Elapsed.TotalSeconds:0.0} s later");
        Assert.Equal(host, agent.Address(master.Cluster!));
        Assert.Equal("4", await master.AskWorkerAsync("eval_worker", "2+2").Within("an ask after healing", TimeSpan.FromSeconds(40)));
    }

    [RootFact]
    public async Task An_agent_cut_off_longer_than_stable_after_downs_itself_and_exits_1_while_the_master_carries_on()
    {
        var (master, agent, host) = await StartAsync();
        await using var _ = master;
        using var __ = agent;
        var hosts = Processes.Children(agent.Pid);
        var held = await HoldBothAsync(master);

        Network.Block(NetworkNamespace.Way.Both);
        foreach (var ask in held)
            Assert.Contains($"host {host} is unreachable", (await Assert.ThrowsAsync<WorkerException>(() => ask).Within("a held ask to fail", TimeSpan.FromSeconds(15))).Message);

        // Its side holds no master: the minority. It downs itself, ends its WorkerHosts and exits with 1; the master downs and removes it.
        var (code, said) = await agent.ExitAsync(TimeSpan.FromSeconds(90));
        Assert.True(code == 1, $"the agent exited with {code}: {said}");
        foreach (var pid in hosts) await Hosts.GoneAsync(pid);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Count == 0, "the master to remove the agent", TimeSpan.FromSeconds(60));
        Assert.Equal(Akka.Cluster.MemberStatus.Up, Akka.Cluster.Cluster.Get(master.Cluster!.System).SelfMember.Status);
        Assert.Contains("no worker is named \"eval_worker\"", (await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("eval_worker", "1+2")).Within("an ask with no instance left")).Message);
    }
}
