using System.Diagnostics;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Cluster;
using Packet.Actors.Workers;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;
using Xunit.Abstractions;

namespace Packet.Tests.Cluster;

/// <summary>
/// Cluster-unique workers (<see cref="WorkerAttribute.ClusterUnique"/>): one instance in the whole cluster, on one
/// host agent, moved by Akka.Cluster.Tools' cluster singleton when that agent leaves or is lost.
/// </summary>
public sealed class ClusterUniqueWorkerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"packet-credentials-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The tests' worker root for agents (<c>cluster-workers/</c>), which holds <c>unique_worker</c> only.</summary>
    private static string UniqueWorkers() => Path.Combine(AppContext.BaseDirectory, "cluster-workers");

    private Reactor Master(bool cluster, string root = "") => Reactor.Start(ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        packet.workers.enabled = on
        packet.workers.root = "{{root.Replace('\\', '/')}}"
        packet.cluster {
          enabled = {{(cluster ? "on" : "off")}}
          credentials = "{{(cluster ? _folder : "")}}"
        }
        """));

    [Worker("too_many", ClusterUnique = true, Instances = 2)]
    private sealed class TooMany : Actors.Worker
    {
        protected override object? ReceiveData(object? data) => data;
    }

    [Worker("not_loaded", ClusterUnique = true, NoAutoLoad = true)]
    private sealed class NotLoaded : Actors.Worker
    {
        protected override object? ReceiveData(object? data) => data;
    }

    [Fact]
    public void A_cluster_unique_worker_must_run_as_one_instance_started_by_the_cluster()
    {
        Assert.Contains("is ClusterUnique with 2 instances", Assert.Throws<ArgumentException>(() => WorkerType.Of(typeof(TooMany))).Message);
        Assert.Contains("both ClusterUnique and NoAutoLoad", Assert.Throws<ArgumentException>(() => WorkerType.Of(typeof(NotLoaded))).Message);
    }

    [Fact]
    public async Task Without_a_cluster_it_is_an_ordinary_worker_and_a_master_whose_cluster_is_on_never_runs_it()
    {
        await using (var alone = Master(cluster: false, UniqueWorkers()))
        {
            await Bounded.Until(async () => (await alone.GetWorkersAsync()).Any(w => w is { Name: "unique_worker", State: "running" }), "unique_worker to start without a cluster");
            Assert.EndsWith(" 1", (string)(await alone.AskWorkerAsync("unique_worker", null))!);
        }

        ClusterCredentials.Create(_folder, []);
        await using var master = Master(cluster: true, UniqueWorkers());
        Assert.Empty(await master.GetWorkersAsync());
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => master.StartWorkerAsync("unique_worker"));
        Assert.Contains("unique_worker is cluster-unique: with packet.cluster on, it runs on one host agent", refused.Message);
        var asked = await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("unique_worker", null));
        Assert.Contains("worker unique_worker is not running", asked.Message);
    }

    [Fact]
    public async Task It_runs_on_one_agent_only_moves_to_the_next_when_that_one_leaves_and_again_when_it_is_killed()
    {
        ClusterCredentials.Create(_folder, []);
        await using var master = Master(cluster: true);
        var seed = $"127.0.0.1:{master.Cluster!.Address.Port}";
        HostAgent Agent() => new("--seed", seed, "--root", UniqueWorkers(), "--credentials", _folder);

        // The first agent up is the oldest: it runs the worker, and the two that join later, one after the other, do not.
        var first = Agent();
        HostAgent? second = null, third = null;
        try
        {
            Assert.Same(first, await ServedByAsync(master, [first], "the first agent to run unique_worker", TimeSpan.FromSeconds(90)));
            second = Agent();
            await Bounded.Until(() => master.Cluster!.Hosts.Count == 2, "the second agent to be up", TimeSpan.FromSeconds(90));
            third = Agent();
            await Bounded.Until(() => master.Cluster!.Hosts.Count == 3, "the third agent to be up", TimeSpan.FromSeconds(90));
            Assert.Single(await master.GetWorkersAsync(), w => w.Name == "unique_worker"); // no agent was lost or left yet
            Assert.Empty(Processes.Children(second.Pid));
            Assert.Empty(Processes.Children(third.Pid));
            Assert.EndsWith(" 2", (string)(await master.AskWorkerAsync("unique_worker", null))!); // one process, which keeps its state

            // SIGTERM: the agent drains, leaves, and hands the worker over as it goes.
            var since = Stopwatch.StartNew();
            Processes.Signal(first.Pid, Processes.SIGTERM);
            Assert.Equal(0, (await first.ExitAsync(TimeSpan.FromSeconds(60))).ExitCode);
            var at = await ServedByAsync(master, [second, third], "the worker to move after SIGTERM", TimeSpan.FromSeconds(60));
            output.WriteLine($"after SIGTERM, unique_worker answered on the next agent {since.Elapsed.TotalSeconds:0.0} s later");
            Assert.Same(second, at); // the oldest of those left

            // kill -9: asks fail at once until the cluster has downed and removed the agent; then the next one runs it.
            since.Restart();
            Processes.Signal(second.Pid, 9);
            var failed = await Assert.ThrowsAsync<WorkerException>(() => master.AskWorkerAsync("unique_worker", null)).Within("an ask after kill -9 to fail", TimeSpan.FromSeconds(5));
            output.WriteLine($"an ask right after kill -9: {failed.Message}");
            at = await ServedByAsync(master, [third], "the worker to move after kill -9", TimeSpan.FromSeconds(120));
            output.WriteLine($"after kill -9, unique_worker answered on the next agent {since.Elapsed.TotalSeconds:0.0} s later");
            Assert.Single(await master.GetWorkersAsync(), w => w.Name == "unique_worker");
        }
        catch
        {
            foreach (var agent in new[] { first, second, third }.OfType<HostAgent>()) output.WriteLine(await agent.KillAsync());
            throw;
        }
        finally
        {
            foreach (var agent in new[] { first, second, third }.OfType<HostAgent>())
            {
                await agent.KillAsync();
                agent.Dispose();
            }
        }
    }

    /// <summary>
    /// Asks <c>unique_worker</c> until one of <paramref name="agents"/>' WorkerHosts answers it, within <paramref name="limit"/>;
    /// that agent. Its first answer in that process is its first ask: the worker started there afresh.
    /// </summary>
    private static async Task<HostAgent> ServedByAsync(Reactor master, HostAgent[] agents, string what, TimeSpan limit)
    {
        HostAgent? found = null;
        string? answer = null;
        await Bounded.Until(async () =>
        {
            try
            {
                answer = (string?)await master.AskWorkerAsync("unique_worker", null);
            }
            catch (WorkerException)
            {
                await Task.Delay(100);
                return false; // not offered yet, or still at a host that is gone
            }
            var pid = int.Parse(answer!.Split(' ')[0]);
            found = agents.FirstOrDefault(agent => Processes.Children(agent.Pid).Contains(pid));
            return found is not null;
        }, what, limit);
        Assert.EndsWith(" 1", answer);
        // An agent that handed the worker over, or was lost, may still be listed, draining or unreachable, until it is removed.
        Assert.Single(await master.GetWorkersAsync(), w => w is { Name: "unique_worker", State: "running" });
        return found!;
    }
}
