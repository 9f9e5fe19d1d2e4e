using System.Diagnostics;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Cluster;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;
using Xunit.Abstractions;

namespace Packet.Tests.Cluster;

/// <summary>A master's cluster node, and host agents (<c>Packet.WorkerHost.dll join</c>) joining it as real processes.</summary>
public sealed class ClusterMembershipTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"packet-credentials-{Guid.NewGuid():N}");
    private readonly string _other = Path.Combine(Path.GetTempPath(), $"packet-credentials-{Guid.NewGuid():N}"); // another cluster's
    private readonly string _root = Directory.CreateTempSubdirectory("packet-agent-root-").FullName; // no workers: membership only

    public void Dispose()
    {
        foreach (var folder in new[] { _folder, _other, _root })
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    private Reactor Master(bool workers = false, int port = 0) => Reactor.Start(ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        packet.workers.enabled = {{(workers ? "on" : "off")}}
        packet.cluster {
          enabled = on
          credentials = "{{_folder}}"
          port = {{port}}
        }
        """));

    /// <summary>A host agent running the eval sample's workers (with <paramref name="more"/> arguments), once <paramref name="master"/> has their offer.</summary>
    private async Task<HostAgent> EvalAgentAsync(Reactor master, params string[] more)
    {
        var agent = new HostAgent(["--seed", $"127.0.0.1:{master.Cluster!.Address.Port}", "--root", Configuration.ConfigurationTests.EvalWorkers(), "--credentials", _folder, .. more]);
        try
        {
            await Bounded.Until(async () => (await master.GetWorkersAsync()).Any(w => w.Name == "eval_worker" && w.Host is not null), "the agent's eval_worker to be offered to the master", TimeSpan.FromSeconds(60));
            return agent;
        }
        catch
        {
            agent.Dispose(); // killed with its WorkerHosts
            throw;
        }
    }

    /// <summary>The eval sample's worker folder, built with the tests.</summary>

    [Fact]
    public async Task A_host_agent_joins_a_masters_cluster_over_TLS_and_leaves_it_on_SIGTERM()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master();
        var node = master.Cluster!;
        Assert.Equal(ClusterSettings.MasterRole, node.Role);
        using var agent = new HostAgent("--seed", $"127.0.0.1:{node.Address.Port}", "--root", _root, "--credentials", _folder);

        await Bounded.Until(() => node.Hosts.Count == 1, "the host agent to be up in the master's view");
        Processes.Signal(agent.Pid, 15);
        await Bounded.Until(() => node.Hosts.Count == 0, "the host agent to leave the master's view");
        var (code, output) = await agent.ExitAsync();

        Assert.Equal(0, code);
        Assert.Contains("joins the cluster at 127.0.0.1:", output);
        Assert.Contains("leaves the cluster", output);
        Assert.False(node.WhenTerminated.IsCompleted);
    }

    [Fact]
    public async Task A_host_agent_with_another_clusters_credentials_never_joins_and_stops_nothing()
    {
        ClusterCredentials.Create(_folder, []);
        ClusterCredentials.Create(_other, []);
        await using var master = Master();
        var node = master.Cluster!;
        using var stranger = new HostAgent("--seed", $"127.0.0.1:{node.Address.Port}", "--root", _root, "--credentials", _other);

        // Its own outgoing handshake fails, and Akka.Remote ends its node: the agent says so and stops.
        var (code, output) = await stranger.ExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, code);
        Assert.Contains("the cluster node ended", output);
        Assert.Empty(node.Hosts);
        Assert.Equal([node.Address], Akka.Cluster.Cluster.Get(node.System).State.Members.Select(m => m.Address));
        Assert.False(node.WhenTerminated.IsCompleted);
    }

    [Fact]
    public async Task A_cluster_node_refuses_JSON_serialized_messages_instead_of_reading_type_names_from_the_network()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master();
        using var stranger = ActorSystem.Create("json-stranger", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var json = stranger.Serialization.FindSerializerForType(typeof(object));
        var forged = json.ToBinary(new Dictionary<string, string> { ["what"] = "any type the sender names" });
        Assert.Equal(1, json.Identifier); // Akka's Newtonsoft serializer, which honours type names in the payload

        var refused = Assert.ThrowsAny<Exception>(() => master.Cluster!.System.Serialization.Deserialize(forged, json.Identifier, typeof(Dictionary<string, string>).AssemblyQualifiedName!));

        Assert.Contains("Cannot find serializer with id [1]", refused.Message);
        await stranger.Terminate();
    }

    [Fact]
    public async Task The_join_command_refuses_bad_arguments_with_its_usage()
    {
        using var missing = new HostAgent("--root", _root);
        var (code, output) = await missing.ExitAsync();
        Assert.Equal(2, code);
        Assert.Contains("--seed, --root and --credentials are required", output);

        using var badSeed = new HostAgent("--seed", "nowhere", "--root", _root, "--credentials", _root);
        (code, output) = await badSeed.ExitAsync();
        Assert.Equal(2, code);
        Assert.Contains("--seed", output.Split("usage:")[0]); // the message names the option, not a setting
        Assert.Contains("usage: dotnet Packet.WorkerHost.dll join", output);
    }

    [Fact]
    public void A_master_with_the_cluster_on_needs_its_credentials_before_it_starts()
    {
        var missing = Assert.Throws<ConfigurationException>(() => Reactor.Start(ConfigurationFactory.ParseString("packet.cluster.enabled = on")));
        Assert.Contains("packet.cluster.credentials", missing.Message);
        var badSeed = Assert.Throws<ConfigurationException>(() => Reactor.Start(ConfigurationFactory.ParseString($$"""
            packet.cluster { enabled = on, credentials = "{{_root}}", seed-nodes = ["no-port"] }
            """)));
        Assert.Contains("is not host:port", badSeed.Message);
    }

    [Fact]
    public async Task A_master_with_no_workers_of_its_own_asks_a_host_agents_and_a_killed_agent_fails_its_asks_naming_it()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var agent = await EvalAgentAsync(master);

        var offered = Assert.Single(await master.GetWorkersAsync());
        Assert.Equal(("eval_worker", "running", agent.Address(node)), (offered.Name, offered.State, offered.Host));
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("an ask answered by the agent's worker", TimeSpan.FromSeconds(60)));
        var many = await Task.WhenAll(Enumerable.Range(1, 20).Select(i => master.AskWorkerAsync("eval_worker", $"{i}*{i}"))).Within("20 asks at once");
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"{i * i}"), many.Cast<string>());

        var host = agent.Address(node);
        var hosts = Processes.Children(agent.Pid); // its WorkerHosts, which end by themselves when it dies
        Assert.Equal(2, hosts.Length);
        var held = await HoldBothAsync(master);
        Processes.Signal(agent.Pid, 9);

        // Its link drops at once: what it held fails long before those asks would end, and a new ask fails at once.
        await FailAsync(master, held, "kill -9", error => Assert.Contains($"host {host} is unreachable", error));
        Assert.Equal("unreachable", Assert.Single(await master.GetWorkersAsync()).State);
        foreach (var pid in hosts) await Hosts.GoneAsync(pid);
    }

    /// <summary>
    /// After <paramref name="signal"/> to the agent: each of <paramref name="held"/> fails within 15 s, then a new
    /// ask within 5 s, and <paramref name="check"/> takes each error.
    /// </summary>
    private async Task FailAsync(Reactor master, Task<object?>[] held, string signal, Action<string> check)
    {
        var since = Stopwatch.StartNew();
        foreach (var ask in held)
            check((await Assert.ThrowsAsync<WorkerException>(() => ask).Within($"an ask the agent held to fail after {signal}", TimeSpan.FromSeconds(15))).Message);
        output.WriteLine($"the asks it held failed {since.Elapsed.TotalSeconds:0.0} s after {signal} of the agent");
        check((await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("eval_worker", "1+2")).Within("a new ask to fail", TimeSpan.FromSeconds(5))).Message);
    }

    /// <summary>Two asks that take <paramref name="seconds"/>, running in two eval WorkerHosts (the agent's, when the master has none).</summary>
    private async Task<Task<object?>[]> HoldBothAsync(Reactor master, int seconds = 20)
    {
        var started = Enumerable.Range(0, 2).Select(i => Path.Combine(_root, $"started-{i}")).ToArray();
        var held = started.Select(file => master.AskWorkerAsync("eval_worker", $"System.IO.File.WriteAllText(@\"{file}\", \"\"); System.Threading.Thread.Sleep({seconds * 1000}); 0")).ToArray();
        await Bounded.Until(() => started.All(File.Exists), "both asks to be running in the agent's WorkerHosts");
        return held;
    }

    [WorkerUserFact]
    public async Task An_agents_worker_code_run_as_another_user_cannot_read_the_agents_credentials()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        using var agent = await EvalAgentAsync(master, "--worker-user", "nobody");

        Assert.Equal("nobody", await master.AskWorkerAsync("eval_worker", "Environment.UserName").Within("an ask at the agent", TimeSpan.FromSeconds(60)));
        var key = Path.Combine(_folder, "packet-host.pfx");
        var refused = await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("eval_worker", $"System.IO.File.ReadAllBytes(@\"{key}\").Length"));
        Assert.Contains($"Access to the path '{key}' is denied", refused.Message);
    }

    [Fact]
    public async Task A_stopped_agent_fails_its_asks_naming_it_and_is_used_again_once_it_runs_again()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var agent = await EvalAgentAsync(master);
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("a first ask (the worker warms up)", TimeSpan.FromSeconds(60)));
        var host = agent.Address(node);
        var held = await HoldBothAsync(master);

        Processes.Signal(agent.Pid, Processes.SIGSTOP); // a partition without root: its sockets stay open, it answers nothing
        try
        {
            await FailAsync(master, held, "SIGSTOP", error => Assert.Equal($"host {host} is unreachable", error));
        }
        finally
        {
            Processes.Signal(agent.Pid, Processes.SIGCONT);
        }

        // Running again before the split-brain resolver downs it (stable-after, 20 s): its WorkerHosts, freed
        // by the agent's own ask-timeout or still sleeping, take asks again once the master sees it back.
        await Bounded.Until(async () => await master.AskWorkerAsync("eval_worker", "2+2").ContinueWith(t => t.IsCompletedSuccessfully && Equals(t.Result, "4"), TaskScheduler.Default),
            "the agent to answer again", TimeSpan.FromSeconds(90));
        Assert.Contains(host, Akka.Cluster.Cluster.Get(node.System).State.Members.Select(m => m.Address.ToString()));
    }

    /// <summary>A second eval agent, once the master runs both agents' eval_workers.</summary>
    private async Task<HostAgent> SecondAgentAsync(Reactor master)
    {
        var second = new HostAgent("--seed", $"127.0.0.1:{master.Cluster!.Address.Port}", "--root", Configuration.ConfigurationTests.EvalWorkers(), "--credentials", _folder);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Count(w => w.Host is not null && w.State == "running") == 2, "both agents' eval_workers to be offered", TimeSpan.FromSeconds(60));
        return second;
    }

    /// <summary>Four asks at once, one per WorkerHost of two agents: each writes its process id to a file, then runs <paramref name="seconds"/>; returned once all four run, with where each ran.</summary>
    private async Task<(Task<object?>[] Asks, int[] RanIn, string[] Files)> FourAsksAsync(Reactor master, int seconds, bool idempotent)
    {
        var files = Enumerable.Range(0, 4).Select(i => Path.Combine(_root, $"pid-{i}")).ToArray();
        var asks = files.Select(file => master.AskWorkerAsync("eval_worker",
            $"System.IO.File.WriteAllText(@\"{file}\", System.Environment.ProcessId.ToString()); System.Threading.Thread.Sleep({seconds * 1000}); System.Environment.ProcessId",
            idempotent: idempotent)).ToArray();
        await Bounded.Until(() => files.All(file => File.Exists(file) && int.TryParse(File.ReadAllText(file), out _)), "the four asks to be running", TimeSpan.FromSeconds(60)); // the file is there before its text
        return (asks, files.Select(file => int.Parse(File.ReadAllText(file))).ToArray(), files);
    }

    [Fact]
    public async Task Asks_spread_over_two_agents_and_a_killed_one_costs_only_the_asks_it_held()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var first = await EvalAgentAsync(master);
        using var second = await SecondAgentAsync(master);
        var (firstHosts, secondHosts) = (Processes.Children(first.Pid), Processes.Children(second.Pid));
        var lost = Akka.Cluster.Cluster.Get(node.System).State.Members.Single(m => m.HasRole(ClusterSettings.HostRole) && m.Address.Port != null && Processes.ListeningPorts(first.Pid).Contains(m.Address.Port.Value)).Address;

        // Four asks at once, one per WorkerHost: each writes its process id, then runs 8 s.
        var (asks, ranIn, _) = await FourAsksAsync(master, seconds: 8, idempotent: false);
        Assert.Equal(2, ranIn.Count(firstHosts.Contains));
        Assert.Equal(2, ranIn.Count(secondHosts.Contains));

        Processes.Signal(first.Pid, 9);
        for (var i = 0; i < asks.Length; i++)
        {
            if (firstHosts.Contains(ranIn[i]))
                Assert.Contains($"host {lost} is unreachable", (await Assert.ThrowsAsync<WorkerException>(() => asks[i]).Within("an ask the killed agent held to fail")).Message);
            else
                Assert.Equal($"{ranIn[i]}", await asks[i].Within("an ask the other agent held to be answered"));
        }
        Assert.Contains(int.Parse((string)(await master.AskWorkerAsync("eval_worker", "System.Environment.ProcessId").Within("a new ask"))!), secondHosts);
    }

    [Fact]
    public async Task Idempotent_asks_a_killed_agent_held_run_again_on_the_other_agent_and_are_answered()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        using var first = await EvalAgentAsync(master);
        using var second = await SecondAgentAsync(master);
        var (firstHosts, secondHosts) = (Processes.Children(first.Pid), Processes.Children(second.Pid));

        // Four idempotent asks at once, one per WorkerHost: each writes its process id, then runs 5 s.
        var (asks, ranIn, files) = await FourAsksAsync(master, seconds: 5, idempotent: true);
        Assert.Equal(2, ranIn.Count(firstHosts.Contains));

        // The killed agent's two run again on the other agent, after its own two: every ask is answered there.
        Processes.Signal(first.Pid, 9);
        var answers = await Task.WhenAll(asks).Within("every ask to be answered", TimeSpan.FromSeconds(25));
        Assert.All(answers, answer => Assert.Contains(int.Parse((string)answer!), secondHosts));
        for (var i = 0; i < files.Length; i++)
            Assert.Contains(int.Parse(File.ReadAllText(files[i])), secondHosts); // the retried ones wrote again, from the survivor
    }

    [Fact]
    public async Task A_node_that_joins_as_a_master_with_a_host_certificate_is_downed_and_the_cluster_carries_on()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var agent = await EvalAgentAsync(master);

        // What worker code on an agent could do with the host credentials it can read: start a node that claims the
        // master role, to vote in the split-brain resolver (which counts masters only) and to send agents work.
        var seed = node.Address;
        using var impostor = ActorSystem.Create(seed.System, ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.stdout-loglevel = ERROR
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, enable-ssl = on }
            akka.cluster.roles = ["{{ClusterSettings.MasterRole}}"]
            akka.cluster.seed-nodes = ["{{seed}}"]
            akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
            akka.coordinated-shutdown.exit-clr = off
            """))).And(ClusterCredentials.Load(_folder, ClusterSettings.HostRole).Setup()));
        var claimed = Akka.Cluster.Cluster.Get(impostor).SelfAddress;

        // Its TLS handshake passes (the authority issued its certificate), so it joins; the nodes that see its
        // certificate's role down it, and a downed node ends itself.
        await impostor.WhenTerminated.Within("the impostor to be downed", TimeSpan.FromSeconds(60));
        await Bounded.Until(() => Akka.Cluster.Cluster.Get(node.System).State.Members.All(m => !m.Address.Equals(claimed)), "the impostor to be removed", TimeSpan.FromSeconds(60));
        Assert.Equal(Akka.Cluster.MemberStatus.Up, Akka.Cluster.Cluster.Get(node.System).SelfMember.Status);
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("an ask at the agent"));
    }

    [RootFact]
    public async Task Links_dropped_while_master_and_agent_both_live_come_back_and_the_agent_answers_again()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var agent = await EvalAgentAsync(master);
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("an ask at the agent", TimeSpan.FromSeconds(60)));

        // Every TCP connection between the two nodes is destroyed (ss -K, as a reset or a NAT timeout would), both processes alive.
        var (agentPort, masterPort) = (Akka.Actor.Address.Parse(agent.Address(node)).Port, node.Address.Port);
        using (var kill = Process.Start(new ProcessStartInfo("ss", ["-K", $"( sport = :{agentPort} or dport = :{agentPort} or sport = :{masterPort} or dport = :{masterPort} )"])
               { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            var killed = await kill.StandardOutput.ReadToEndAsync().Within("ss -K");
            await kill.WaitForExitAsync().Within("ss -K to end");
            output.WriteLine(killed);
            Assert.Contains($":{agentPort}", killed); // it found connections to destroy
        }

        // Asks made while the master takes the drop in may fail, naming the host; then the same member answers again, and stays.
        await Bounded.Until(async () => await master.AskWorkerAsync("eval_worker", "2+2").ContinueWith(t => t.IsCompletedSuccessfully && Equals(t.Result, "4"), TaskScheduler.Default),
            "the agent to answer again", TimeSpan.FromSeconds(30));
        for (var i = 0; i < 5; i++) Assert.Equal($"{i * i}", await master.AskWorkerAsync("eval_worker", $"{i}*{i}").Within("an ask once the links are back"));
        Assert.Equal("running", Assert.Single(await master.GetWorkersAsync()).State);
        Assert.Equal(Akka.Cluster.MemberStatus.Up, Akka.Cluster.Cluster.Get(node.System).State.Members.Single(m => m.HasRole(ClusterSettings.HostRole)).Status);
    }

    [Fact]
    public async Task An_agent_restarted_at_the_same_address_after_kill_9_is_used_again()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        var port = Loopback.FreePort();
        string[] args = ["--seed", $"127.0.0.1:{node.Address.Port}", "--root", Configuration.ConfigurationTests.EvalWorkers(), "--credentials", _folder, "--port", $"{port}"];
        using (var killed = new HostAgent(args))
        {
            await Bounded.Until(async () => (await master.GetWorkersAsync()).Any(w => w.State == "running"), "the agent's eval_worker to be offered", TimeSpan.FromSeconds(60));
            Processes.Signal(killed.Pid, 9);
            await Bounded.Until(async () => (await master.GetWorkersAsync()).All(w => w.State == "unreachable"), "the master to lose the agent");
        }

        // As a process manager would: the same command, so the same address. Akka's cluster takes the new
        // incarnation in place of the old, which it removes; the master takes the new one's offer.
        using var restarted = new HostAgent(args);
        await Bounded.Until(async () => (await master.GetWorkersAsync()) is [{ State: "running" }], "the restarted agent's eval_worker to be used", TimeSpan.FromSeconds(90));
        var hosts = Processes.Children(restarted.Pid);
        var answer = await master.AskWorkerAsync("eval_worker", "System.Environment.ProcessId").Within("an ask at the restarted agent", TimeSpan.FromSeconds(60));
        Assert.Contains(int.Parse((string)answer!), hosts);
    }

    [Fact]
    public async Task Two_masters_share_one_agent_and_each_gets_its_own_answers()
    {
        ClusterCredentials.Create(_folder, []);
        await using var first = Master(workers: true);
        await using var second = Reactor.Start(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            packet.workers.enabled = on
            packet.cluster { enabled = on, credentials = "{{_folder}}", seed-nodes = ["127.0.0.1:{{first.Cluster!.Address.Port}}"] }
            """));
        using var agent = await EvalAgentAsync(first);
        await Bounded.Until(async () => (await second.GetWorkersAsync()).Any(w => w.Host is not null && w.State == "running"), "the agent's offer to reach the second master", TimeSpan.FromSeconds(60));

        var asks = Enumerable.Range(1, 10).SelectMany(i => new[] { first.AskWorkerAsync("eval_worker", $"{i}*2"), second.AskWorkerAsync("eval_worker", $"{i}*3") }).ToArray();
        var answers = await Task.WhenAll(asks).Within("ten asks from each master", TimeSpan.FromSeconds(60));

        Assert.Equal(Enumerable.Range(1, 10).SelectMany(i => new[] { $"{i * 2}", $"{i * 3}" }), answers.Cast<string>());
        Assert.Equal((await first.GetWorkersAsync()).Single().Host, (await second.GetWorkersAsync()).Single().Host);
    }

    [Fact]
    public async Task With_prefer_local_a_master_sends_asks_to_an_agent_only_while_its_own_WorkerHosts_are_busy()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Reactor.Start(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            packet.workers.root = "{{Configuration.ConfigurationTests.EvalWorkers().Replace('\\', '/')}}"
            packet.cluster { enabled = on, credentials = "{{_folder}}", prefer-local = on }
            """));
        using var agent = await EvalAgentAsync(master);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Count(w => w.Host is null && w.State == "running") == 2, "the master's own two eval WorkerHosts to run");
        var own = (await master.GetWorkersAsync()).Where(w => w.Host is null).Select(w => $"{w.ProcessId}").ToArray();
        var agents = Processes.Children(agent.Pid).Select(pid => $"{pid}").ToArray();
        const string WhichProcess = "System.Environment.ProcessId";

        for (var i = 0; i < 6; i++) // one at a time: always one of its own, though the agent's are as free
            Assert.Contains(await master.AskWorkerAsync("eval_worker", WhichProcess).Within("an ask", TimeSpan.FromSeconds(60)), own);
        var held = await HoldBothAsync(master, seconds: 5); // both of its own busy
        Assert.Contains(await master.AskWorkerAsync("eval_worker", WhichProcess).Within("an ask while its own are busy"), agents);
        foreach (var ask in held) Assert.Equal("0", await ask.Within("a held ask"));
        Assert.Contains(await master.AskWorkerAsync("eval_worker", WhichProcess).Within("an ask once its own are free"), own);
    }

    [Fact]
    public async Task An_agent_stopped_with_SIGTERM_answers_the_asks_it_holds_before_it_leaves()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true);
        var node = master.Cluster!;
        using var agent = await EvalAgentAsync(master);
        Assert.Equal("2", await master.AskWorkerAsync("eval_worker", "1+1").Within("a first ask (the worker warms up)", TimeSpan.FromSeconds(60)));

        var started = Path.Combine(_root, "started");
        var slow = master.AskWorkerAsync("eval_worker", $"System.IO.File.WriteAllText(@\"{started}\", \"\"); System.Threading.Thread.Sleep(2000); 7");
        await Bounded.Until(() => File.Exists(started), "the slow ask to be running in the agent's WorkerHost");
        Processes.Signal(agent.Pid, Processes.SIGTERM);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Any(w => w.State == "draining"), "the master to list the agent's instance as draining");

        Assert.Equal("7", await slow.Within("the slow ask's answer"));
        var (code, output) = await agent.ExitAsync();
        Assert.Equal(0, code);
        Assert.Contains("is leaving: answering the asks it holds", output);
        await Bounded.Until(() => node.Hosts.Count == 0, "the agent to leave the master's view");
    }

    [Fact]
    public async Task A_masters_cluster_node_that_ends_by_itself_starts_again_at_its_address_and_agents_join_it()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(workers: true, port: Loopback.FreePort());
        var ended = master.Cluster!;
        using var before = await EvalAgentAsync(master);

        // As Akka.Remote ends it after an outgoing TLS handshake failed (akkadotnet/akka.net#7839), or the cluster downs it.
        await ended.System.Terminate().Within("the master's cluster node to end");
        await Bounded.Until(() => master.Cluster != ended && Akka.Cluster.Cluster.Get(master.Cluster!.System).SelfMember.Status == Akka.Cluster.MemberStatus.Up,
            "the master's cluster node to start again", TimeSpan.FromSeconds(30));
        Assert.Equal(ended.Address, master.Cluster!.Address);
        Assert.Empty(await master.GetWorkersAsync()); // the old node's instances went with it

        // A new cluster at the same address: an agent started now joins it (the old one, left in the old cluster, downs itself).
        using var after = await EvalAgentAsync(master);
        Assert.Equal("42", await master.AskWorkerAsync("eval_worker", "6*7").Within("an ask at the new node's agent", TimeSpan.FromSeconds(60)));
        Assert.Equal(after.Address(master.Cluster), (await master.GetWorkersAsync()).Single().Host);
    }

    [Fact]
    public async Task Asking_every_host_asks_this_machine_and_each_agent_once_and_names_a_lost_one()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Reactor.Start(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            packet.workers.root = "{{Configuration.ConfigurationTests.EvalWorkers().Replace('\\', '/')}}"
            packet.cluster { enabled = on, credentials = "{{_folder}}" }
            """));
        using var agent = await EvalAgentAsync(master);
        var host = agent.Address(master.Cluster!);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Count(w => w.State == "running") == 3, "the master's two eval WorkerHosts and the agent's instance to run");
        var own = (await master.GetWorkersAsync()).Where(w => w.Host is null).Select(w => $"{w.ProcessId}").ToArray();
        const string WhichProcess = "System.Environment.ProcessId";

        var replies = await master.AskEveryHostAsync("eval_worker", WhichProcess).Within("the answer of every host", TimeSpan.FromSeconds(60));

        Assert.Equal([null, host], replies.Select(r => r.Host));
        Assert.Contains(replies[0].Reply.Data, own);
        Assert.Contains(replies[1].Reply.Data, Processes.Children(agent.Pid).Select(pid => $"{pid}"));

        Processes.Signal(agent.Pid, 9);
        await Bounded.Until(async () => (await master.GetWorkersAsync()).Any(w => w.Host == host && w.State == "unreachable"), "the master to lose the agent");
        replies = await master.AskEveryHostAsync("eval_worker", WhichProcess).Within("the answer of every host, one of them lost");

        Assert.Equal([null, host], replies.Select(r => r.Host));
        Assert.Contains(replies[0].Reply.Data, own);
        Assert.Equal($"host {host} is unreachable: its link dropped", replies[1].Reply.Error);
    }
}
