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

public sealed class WorkerTests(WorkerFixture fixture) : IClassFixture<WorkerFixture>
{
    private Reactor Reactor => fixture.Reactor;

    /// <summary>Each line a client sends goes to echo_worker; the reply comes back as a line.</summary>
    private sealed class AskingServer : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine(reply.IsError ? $"error: {reply.Error}" : $"{reply.Data}");
    }

    [Fact]
    public async Task A_worker_runs_in_its_own_process_and_answers_a_round_trip()
    {
        var pid = await Reactor.AskWorkerAsync("echo_worker", "pid");

        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.True(Hosts.IsAlive((int)pid!));
        Assert.Equal(new Job("me", 2), await Reactor.AskWorkerAsync("echo_worker", new Job("me", 1)));
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

        Assert.Contains("no worker is named \"no_such_worker\" (known: echo_worker, keyed_worker, pool_worker, shout_worker, sink_worker)", unknown.Message);
        Assert.Contains("Packet.Tests.Workers.Forbidden is not allowed", forbidden.Message);
        Assert.Contains("reply cannot travel", reply.Message);
        Assert.Equal("still fine", await Reactor.AskWorkerAsync("echo_worker", "still fine"));
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

        var pid = (int)(await Reactor.AskWorkerAsync("keyed_worker", "pid", "k1"))!;
        await Reactor.DeleteWorkerAsync("keyed_worker", "k1");
        Assert.False(Hosts.IsAlive(pid));
        Assert.DoesNotContain(await Reactor.GetWorkersAsync(), w => w.Key == "k1");
        await Reactor.DeleteWorkerAsync("keyed_worker", "k2");
    }

    [Fact]
    public async Task Killing_a_WorkerHost_fails_the_pending_ask_within_two_seconds_and_the_restarted_worker_answers()
    {
        var pid = await fixture.RunningAsync("echo_worker");
        var pending = Reactor.AskWorkerAsync("echo_worker", "sleep:10000");
        await Task.Delay(200); // let the ask reach the worker: a bounded head start, not synchronisation of the result

        var clock = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill();
        var error = await Assert.ThrowsAsync<WorkerException>(() => pending.Within("the pending ask to fail"));
        clock.Stop();

        Assert.Contains("unavailable", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the asker waited {clock.Elapsed}");
        await fixture.RunningAsync("echo_worker", replacing: pid);
        Assert.Equal("back", await Reactor.AskWorkerAsync("echo_worker", "back"));
    }

    [Fact]
    public async Task A_hung_worker_times_out_and_is_restarted()
    {
        var pid = await fixture.RunningAsync("echo_worker");

        var error = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", "hang"));

        Assert.Contains("did not answer within", error.Message);
        await Hosts.GoneAsync(pid);
        Assert.Equal("alive", await Reactor.AskWorkerAsync("echo_worker", "alive"));
    }

    [Fact]
    public async Task A_pool_serves_other_asks_while_one_instance_hangs_then_restarts_it()
    {
        await Reactor.StartWorkerAsync("pool_worker");
        try
        {
            var pids = (await Reactor.GetWorkersAsync()).Where(w => w.Name == "pool_worker").Select(w => w.ProcessId).ToArray();
            Assert.Equal(2, pids.Distinct().Count());

            var hung = Reactor.AskWorkerAsync("pool_worker", "hang");
            var served = new List<object?>();
            for (var i = 0; i < 5; i++) served.Add(await Reactor.AskWorkerAsync("pool_worker", $"ask {i}").Within("an ask beside the hung one", TimeSpan.FromSeconds(2)));

            Assert.Equal(Enumerable.Range(0, 5).Select(i => (object?)$"ask {i}"), served);
            Assert.Contains("did not answer within", (await Assert.ThrowsAsync<WorkerException>(() => hung)).Message);
            await Bounded.Until(() => Reactor.GetWorkersAsync().GetAwaiter().GetResult()
                .Count(w => w.Name == "pool_worker" && w.State == "running" && !pids.Contains(w.ProcessId)) == 1, "the hung instance to be replaced");
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("pool_worker");
        }
    }

    [Fact]
    public async Task A_16_MiB_payload_round_trips_and_a_larger_one_than_the_limit_fails_clearly()
    {
        var big = new byte[16 * 1024 * 1024];
        new Random(16).NextBytes(big);

        var back = (byte[])(await Reactor.AskWorkerAsync("echo_worker", big))!;
        var error = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", new byte[21 * 1024 * 1024]));

        Assert.True(big.AsSpan().SequenceEqual(back));
        Assert.Contains("exceeds packet.workers.max-payload", error.Message);
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

    [Fact]
    public async Task With_a_log_folder_each_worker_writes_its_own_file()
    {
        var folder = Directory.CreateTempSubdirectory("packet-logs-").FullName;
        try
        {
            await using (var reactor = Reactors.Start($$"""
                packet.workers {
                  types = ["Packet.Tests.Workers.KeyedWorker, Packet.Tests"]
                  log-folder = "{{folder}}"
                }
                """))
            {
                await reactor.StartWorkerAsync("keyed_worker", "logged");
                var file = Path.Combine(folder, "keyed_worker_logged.log");
                await Bounded.Until(() => File.Exists(file) && ReadShared(file).Contains("keyed worker logged ready"), "the worker's log line in its file");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    [Fact]
    public async Task A_registration_without_the_secret_is_refused()
    {
        // A stranger that speaks the wire protocol perfectly, but was not started by this master.
        using var stranger = ActorSystem.Create("stranger", ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(Actors.Reactor.DefaultConfig.GetConfig("packet.workers.remote-config")));
        var master = $"{((ExtendedActorSystem)Reactor.System).Provider.DefaultAddress}/user/workers";
        var probe = stranger.ActorOf(Props.Create(() => new Forwarder()));

        var answer = await stranger.ActorSelection(master)
            .Ask<object>(new WorkerProtocol.Register("not-the-secret", 1, "echo_worker", probe), TimeSpan.FromSeconds(10));

        Assert.Contains("wrong secret", Assert.IsType<WorkerProtocol.Refused>(answer).Reason);
        await stranger.Terminate();
    }

    private sealed class Forwarder : ReceiveActor;

    [Fact]
    public async Task A_WorkerHost_exits_by_itself_when_its_master_goes_away()
    {
        var type = WorkerType.Of(typeof(EchoWorker));
        var start = new HostStart("akka.tcp://gone@127.0.0.1:1/user/workers", "secret", 1, type.Name, null, type.AssemblyPath, type.TypeName,
            new Dictionary<string, string>(), [], 1024, "WARNING");
        var exited = new TaskCompletionSource<int>();
        using var host = WorkerHostProcess.Start(Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), start, _ => { }, (_, code) => exited.TrySetResult(code));

        host.CloseInput(); // what the kernel does to the pipe when the master dies, even by kill -9

        Assert.Equal(0, await exited.Task.Within("the orphaned WorkerHost to exit", TimeSpan.FromSeconds(10)));
    }
}
