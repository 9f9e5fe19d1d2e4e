using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>
/// The worker behaviour that must not depend on where a worker runs: run once against WorkerHost
/// processes (<see cref="ProcessWorkerTests"/>) and once in process (<see cref="InProcessWorkerTests"/>).
/// </summary>
public abstract class WorkerSuite(WorkerFixture fixture)
{
    protected WorkerFixture Fixture => fixture;

    protected Reactor Reactor => fixture.Reactor;

    /// <summary>Each line a client sends goes to echo_worker; the reply comes back as a line.</summary>
    private sealed class AskingServer : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine(reply.IsError ? $"error: {reply.Error}" : $"{reply.Data}");
    }

    [Fact]
    public async Task A_TCP_client_line_goes_through_the_worker_and_back_to_that_client()
    {
        var server = await Reactor.StartServerAsync<AskingServer>(Loopback.Host, 0);
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);

        await client.SendAsync("hello worker\n");

        Assert.Equal("hello worker\n", Encoding.UTF8.GetString(await client.ReadExactlyAsync(13)));
        await server.StopAsync();
    }

    /// <summary>Asks many times, each ask tagged with its asker, and records what comes back.</summary>
    private sealed class Asker : Connection
    {
        public readonly ConcurrentQueue<string> Replies = new();
        public string Tag { get; init; } = "";

        public void AskMany(int count)
        {
            for (var i = 0; i < count; i++) AskWorker("echo_worker", $"{Tag}-{i}", reply => Replies.Enqueue($"{reply.Data}"));
        }
    }

    [Fact]
    public async Task Two_clients_interleaving_a_thousand_asks_each_get_only_their_own_replies()
    {
        var server = await Reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder());
        var a = Reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Asker { Tag = "a" });
        var b = Reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Asker { Tag = "b" });

        a.AddTimer(TimeSpan.FromMilliseconds(1), () => a.AskMany(1000));
        b.AddTimer(TimeSpan.FromMilliseconds(1), () => b.AskMany(1000));
        await Bounded.Until(() => a.Replies.Count == 1000 && b.Replies.Count == 1000, "2,000 replies", TimeSpan.FromSeconds(60));

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"a-{i}"), a.Replies);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"b-{i}"), b.Replies);
        await server.StopAsync();
    }

    [Fact]
    public async Task A_reply_for_a_connection_that_has_gone_is_dropped_and_counted_never_delivered_elsewhere()
    {
        var server = await Reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder());
        var other = Reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Asker { Tag = "other" });
        var leaver = Reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Asker());
        await Bounded.Until(() => Reactor.ConnectionCount >= 4, "the connections");
        var dropped = Reactor.DroppedWorkerReplies;

        leaver.AddTimer(TimeSpan.FromMilliseconds(1), () =>
        {
            leaver.AskWorker("echo_worker", "sleep:500", reply => leaver.Replies.Enqueue($"{reply.Data}"));
            leaver.CloseConnection();
        });

        await Bounded.Until(() => Reactor.DroppedWorkerReplies == dropped + 1, "the reply to be dropped");
        Assert.Empty(leaver.Replies);
        Assert.Empty(other.Replies);
        await server.StopAsync();
    }

    [Fact]
    public async Task Asking_an_unknown_worker_or_with_a_disallowed_payload_gives_the_asker_a_clear_error()
    {
        var unknown = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("no_such_worker", "x"));
        var forbidden = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", new Forbidden("x")));
        var reply = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", "forbidden"));

        Assert.StartsWith("no worker is named \"no_such_worker\" (known: ", unknown.Message);
        Assert.Contains("echo_worker, gated_worker, keyed_worker, pool_worker, shout_worker, sink_worker)", unknown.Message);
        Assert.Contains("Packet.Tests.Workers.Forbidden is not allowed", forbidden.Message);
        Assert.Contains("reply cannot travel", reply.Message);
        Assert.Equal("still fine", await Reactor.AskWorkerAsync("echo_worker", "still fine"));
    }

    [Fact]
    public async Task Asking_every_host_without_a_cluster_asks_this_machine_once()
    {
        var replies = await Reactor.AskEveryHostAsync("echo_worker", "everyone").Within("the answer of every host");

        var only = Assert.Single(replies);
        Assert.Equal((null, "everyone", null), (only.Host, only.Reply.Data, only.Reply.Error));
        var unknown = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskEveryHostAsync("no_such_worker", "x"));
        Assert.StartsWith("no worker is named \"no_such_worker\" (known: ", unknown.Message);
        var forbidden = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskEveryHostAsync("echo_worker", new Forbidden("x")));
        Assert.Contains("Packet.Tests.Workers.Forbidden is not allowed", forbidden.Message);
    }

    [Fact]
    public async Task Null_travels_both_ways()
    {
        Assert.Null(await Reactor.AskWorkerAsync("echo_worker", null));
    }

    [Fact]
    public async Task An_exception_in_the_worker_becomes_an_error_reply_and_the_worker_keeps_serving()
    {
        var pid = await Reactor.AskWorkerAsync("echo_worker", "pid");

        var error = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", "throw"));

        Assert.Contains("InvalidOperationException: asked to throw", error.Message);
        Assert.Equal(pid, await Reactor.AskWorkerAsync("echo_worker", "pid"));
    }

    [Fact]
    public async Task A_no_auto_load_worker_starts_by_key_with_options_refuses_a_duplicate_and_is_really_deleted()
    {
        Assert.DoesNotContain(await Reactor.GetWorkersAsync(), w => w.Name == "keyed_worker");

        await Reactor.StartWorkerAsync("keyed_worker", "k1", new Dictionary<string, string> { ["greeting"] = "hi" });
        await Reactor.StartWorkerAsync("keyed_worker", "k2");
        var duplicate = await Assert.ThrowsAsync<InvalidOperationException>(() => Reactor.StartWorkerAsync("keyed_worker", "k1"));

        Assert.Equal("k1:hi:x", await Reactor.AskWorkerAsync("keyed_worker", "x", "k1"));
        Assert.Equal("k2:none:y", await Reactor.AskWorkerAsync("keyed_worker", "y", "k2"));
        Assert.Contains("already running", duplicate.Message);

        var host = (await Reactor.GetWorkersAsync()).Single(w => w.Key == "k1").ProcessId;
        await Reactor.DeleteWorkerAsync("keyed_worker", "k1");
        if (host is { } pid) Assert.False(Hosts.IsAlive(pid));
        Assert.DoesNotContain(await Reactor.GetWorkersAsync(), w => w.Key == "k1");
        await Reactor.DeleteWorkerAsync("keyed_worker", "k2");
    }

    [Fact]
    public async Task A_16_MiB_payload_round_trips_and_a_larger_one_than_the_limit_fails_clearly()
    {
        // A master of its own, with the default ask-timeout (30 s): 16 MiB each way can take longer than the fixture's 3 s on a loaded machine.
        var reactor = Fixture.Master("30s");
        try
        {
            await Hosts.RunningAsync(reactor, "echo_worker");
            var big = new byte[16 * 1024 * 1024];
            new Random(16).NextBytes(big);

            var back = (byte[])(await reactor.AskWorkerAsync("echo_worker", big))!;
            var error = await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", new byte[21 * 1024 * 1024]));

            Assert.True(big.AsSpan().SequenceEqual(back));
            Assert.Contains("exceeds packet.workers.max-payload", error.Message);
        }
        finally
        {
            await Hosts.StopAsync(reactor);
        }
    }

    [Fact]
    public async Task Worker_status_and_worker_to_worker_requests_reach_the_master()
    {
        Assert.Equal("ok", await Reactor.AskWorkerAsync("echo_worker", "status:busy"));
        Assert.Equal("relayed", await Reactor.AskWorkerAsync("echo_worker", "relay:parcel"));

        await Bounded.Until(() => Reactor.WorkerResults.TryGetValue("echo_worker", out var s) && "busy".Equals(s), "echo_worker's status");
        await Bounded.Until(() => Reactor.WorkerResults.TryGetValue("sink_worker", out var s) && "sink got parcel".Equals(s), "the relayed request");
    }

    [Fact]
    public async Task The_master_refuses_JSON_serialized_messages_instead_of_reading_type_names_from_the_network()
    {
        using var stranger = ActorSystem.Create("json-stranger", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var json = stranger.Serialization.FindSerializerForType(typeof(object));
        var forged = json.ToBinary(new WorkerProtocol.Register("x", 1, "echo_worker", ActorRefs.Nobody));
        Assert.Equal(1, json.Identifier); // Akka's Newtonsoft serializer, which honours type names in the payload

        var refused = Assert.ThrowsAny<Exception>(() => Reactor.System.Serialization.Deserialize(forged, json.Identifier, typeof(WorkerProtocol.Register).FullName!));

        Assert.Contains("Cannot find serializer with id [1]", refused.Message);
        await stranger.Terminate();
    }

    [Fact]
    public async Task A_worker_named_only_in_code_starts_by_its_class()
    {
        await Reactor.StartWorkerAsync<CodeWorker>();
        try
        {
            Assert.Equal("code worker got 42", await Reactor.AskWorkerAsync("code_worker", 42));
            var clash = await Assert.ThrowsAsync<ArgumentException>(() => Reactor.StartWorkerAsync<Unnamed>());
            Assert.Contains("has no name", clash.Message);
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("code_worker");
        }
    }

    [Fact]
    public async Task A_worker_is_a_full_reactor_that_can_run_its_own_server()
    {
        var port = (int)(await Reactor.AskWorkerAsync("echo_worker", "serve"))!;

        using var client = await Loopback.ConnectAsync(port);
        await client.SendAsync("served by a worker");

        Assert.Equal("served by a worker", Encoding.UTF8.GetString(await client.ReadExactlyAsync(18)));
    }

    [Fact]
    public async Task A_worker_that_names_a_custom_proxy_gets_it()
    {
        await Reactor.StartWorkerAsync("shout_worker");
        try
        {
            Assert.Equal("pushed", await Reactor.AskWorkerAsync("shout_worker", "ping"));

            await Bounded.Until(() => Reactor.WorkerResults.TryGetValue("shout_worker", out var s) && "PONG RECEIVED".Equals(s),
                "the proxy's request to come back as a shouted status");
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("shout_worker");
        }
    }
}
