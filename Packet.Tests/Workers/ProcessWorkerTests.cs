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

/// <summary>The shared worker suite against real Packet.WorkerHost processes, plus what only processes can do: die, hang, be killed, outlive a master.</summary>
public sealed class ProcessWorkerTests(ProcessWorkerFixture fixture) : WorkerSuite(fixture), IClassFixture<ProcessWorkerFixture>
{
    [Fact]
    public async Task A_worker_runs_in_its_own_process_and_answers_a_round_trip()
    {
        var pid = await Reactor.AskWorkerAsync("echo_worker", "pid");

        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.True(Hosts.IsAlive((int)pid!));
        Assert.Equal(new Job("me", 2), await Reactor.AskWorkerAsync("echo_worker", new Job("me", 1)));
    }

    [Fact]
    public async Task A_WorkerHost_allocates_payloads_up_to_4_MiB_in_the_young_generation()
    {
        // The runtime keeps the threshold a little under the 4 MiB asked for (4,194,216 bytes on .NET 10).
        var worker = (long)(await Reactor.AskWorkerAsync("echo_worker", "loh-threshold"))!;
        Assert.InRange(worker, 4L * 1024 * 1024 - 1024, 4L * 1024 * 1024);

        // The master's is the runtime's default (85,000 bytes): the setting is the WorkerHost's own.
        Assert.True(Convert.ToInt64(GC.GetConfigurationVariables()["LOHThreshold"]) < 1024 * 1024);
    }

    [Fact]
    public async Task Killing_a_WorkerHost_fails_the_pending_ask_within_two_seconds_and_the_restarted_worker_answers()
    {
        var pid = (await Fixture.RunningAsync("echo_worker"))!.Value;
        var pending = Reactor.AskWorkerAsync("echo_worker", "sleep:10000");
        await Task.Delay(200); // let the ask reach the worker: a bounded head start, not synchronisation of the result

        var clock = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill();
        var error = await Assert.ThrowsAsync<WorkerException>(() => pending.Within("the pending ask to fail"));
        clock.Stop();

        Assert.Contains("unavailable", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the asker waited {clock.Elapsed}");
        await Fixture.RunningAsync("echo_worker", replacing: pid);
        Assert.Equal("back", await Reactor.AskWorkerAsync("echo_worker", "back"));
    }

    /// <summary>Asks a burst of jobs in one handler call, so they reach the worker together.</summary>
    private sealed class Burst : Connection
    {
        public readonly ConcurrentQueue<string> Replies = new();

        public void Ask(string key, IEnumerable<string> jobs)
        {
            foreach (var job in jobs) AskWorker("echo_worker", job, reply => Replies.Enqueue($"{reply.Data ?? reply.Error}"), key);
        }
    }

    [Fact]
    public async Task A_hung_job_does_not_hold_back_the_replies_to_the_jobs_that_ran_before_it()
    {
        await Reactor.StartWorkerAsync("echo_worker", "burst");
        try
        {
            var server = await Reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder());
            var asker = Reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Burst());
            var before = Enumerable.Range(0, 20).Select(i => $"before-{i}").ToArray();

            asker.AddTimer(TimeSpan.FromMilliseconds(1), () => asker.Ask("burst", [.. before, "hang", "after"]));

            await Bounded.Until(() => asker.Replies.Count >= before.Length, "the replies to the jobs before the hung one");
            Assert.Equal(before, asker.Replies);
            await server.StopAsync();
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("echo_worker", "burst");
        }
    }

    [Fact]
    public async Task Under_restart_policy_never_a_dead_worker_stays_stopped_and_asks_fail_at_once()
    {
        await using var reactor = Reactors.Start("""
            packet.workers { types = ["Packet.Tests.Workers.KeyedWorker, Packet.Tests"], restart.policy = never }
            """);
        await reactor.StartWorkerAsync("keyed_worker", "once");
        var pid = (int)(await reactor.AskWorkerAsync("keyed_worker", "pid", "once"))!;

        Process.GetProcessById(pid).Kill();
        await Bounded.Until(async () => (await reactor.GetWorkersAsync()).Single().State == "stopped", "the worker to stay stopped");
        var error = await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("keyed_worker", "x", "once").Within("an ask to a stopped worker", TimeSpan.FromSeconds(2)));

        Assert.Contains("is stopped", error.Message);
        Assert.False(Hosts.IsAlive(pid));
    }

    [Fact]
    public async Task A_stopping_reactor_lets_its_WorkerHosts_end_on_their_own_instead_of_killing_them()
    {
        var (reactor, host, mark) = await StartMarkedAsync("ends");
        using (host)
            await StopAndAssertItEndedOnItsOwnAsync(reactor, host, mark);
    }

    /// <summary>A reactor with one keyed_worker instance that leaves a file at <c>mark</c> when its host exits on its own (its exit handlers ran).</summary>
    private static async Task<(Reactor Reactor, Process Host, string Mark)> StartMarkedAsync(string key)
    {
        var mark = Path.Combine(Path.GetTempPath(), $"packet-exit-mark-{Guid.NewGuid():N}");
        var reactor = Reactors.Start("""packet.workers.types = ["Packet.Tests.Workers.KeyedWorker, Packet.Tests"]""");
        await reactor.StartWorkerAsync("keyed_worker", key, new Dictionary<string, string> { ["exit-mark"] = mark });
        var pid = (int)(await reactor.AskWorkerAsync("keyed_worker", "pid", key))!;
        return (reactor, Process.GetProcessById(pid), mark);
    }

    /// <summary>
    /// A host that ends on its own runs its exit handlers and closes its Akka.Remote link cleanly; a killed
    /// one runs none, and leaves the master's remoting to log the link as dropped, with an error.
    /// </summary>
    private static async Task StopAndAssertItEndedOnItsOwnAsync(Reactor reactor, Process host, string mark)
    {
        await reactor.StopAsync().Within("the reactor to stop", TimeSpan.FromSeconds(30));
        Assert.True(host.WaitForExit(TimeSpan.FromSeconds(10)), "the WorkerHost is still running after its reactor stopped");
        Assert.True(File.Exists(mark), "the WorkerHost was killed instead of ending on its own");
        File.Delete(mark);
    }

    [Fact]
    public async Task A_WorkerHost_outlives_a_Ctrl_C_and_a_SIGTERM_and_ends_on_its_own_when_its_reactor_stops()
    {
        // A terminal's Ctrl-C and a service manager's stop signal the whole process group, WorkerHosts too;
        // the master's graceful stop still needs them to answer the asks in flight.
        var (reactor, host, mark) = await StartMarkedAsync("signals");
        using (host)
        {
            Processes.Signal(host.Id, Processes.SIGINT);
            Processes.Signal(host.Id, Processes.SIGTERM);
            Assert.False(host.WaitForExit(TimeSpan.FromSeconds(1)), "the WorkerHost ended on a signal");
            Assert.Equal(host.Id, (int)(await reactor.AskWorkerAsync("keyed_worker", "pid", "signals"))!);

            await StopAndAssertItEndedOnItsOwnAsync(reactor, host, mark);
        }
    }

    [Fact]
    public async Task A_hung_worker_times_out_and_is_restarted()
    {
        var pid = (await Fixture.RunningAsync("echo_worker"))!.Value;

        var error = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("echo_worker", "hang"));

        Assert.Contains("did not answer within", error.Message);
        await Hosts.GoneAsync(pid);
        await Fixture.RunningAsync("echo_worker", replacing: pid);
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
            await Bounded.Until(async () => (await Reactor.GetWorkersAsync())
                .Count(w => w.Name == "pool_worker" && w.State == "running" && !pids.Contains(w.ProcessId)) == 1, "the hung instance to be replaced");
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("pool_worker");
        }
    }

    [Fact]
    public async Task A_worker_takes_asks_only_once_its_WorkerInit_returns_and_a_slow_start_is_not_held_against_it()
    {
        var folder = Directory.CreateTempSubdirectory("packet-gate-").FullName;
        var options = new Dictionary<string, string> { ["entered"] = Path.Combine(folder, "entered"), ["gate"] = Path.Combine(folder, "gate") };
        try
        {
            var start = Reactor.StartWorkerAsync("gated_worker", options: options);
            await Bounded.Until(() => File.Exists(options["entered"]), "the worker to be in its WorkerInit", TimeSpan.FromSeconds(30));
            var starting = (await Reactor.GetWorkersAsync()).Single(w => w.Name == "gated_worker");
            Assert.Equal("starting", starting.State);

            // The fixture's ask-timeout passes while WorkerInit still runs: the ask fails at the master,
            // and the worker, which never had it, is not killed for it.
            var early = await Assert.ThrowsAsync<WorkerException>(() => Reactor.AskWorkerAsync("gated_worker", "pid"));
            Assert.Contains("was ready (starting or restarting) within", early.Message);
            Assert.False(start.IsCompleted, "StartWorkerAsync completed before WorkerInit returned");

            await File.WriteAllTextAsync(options["gate"], "");
            await start.Within("the worker to finish starting", TimeSpan.FromSeconds(30));
            Assert.Equal("initialised", Reactor.WorkerResults["gated_worker"]);
            Assert.Equal(starting.ProcessId, await Reactor.AskWorkerAsync("gated_worker", "pid"));
        }
        finally
        {
            await Reactor.DeleteWorkerAsync("gated_worker");
            Directory.Delete(folder, recursive: true);
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

    /// <summary>Asks echo_worker for each line and writes the answer back; records its Unbind.</summary>
    private sealed class SlowAsker : LineConnection
    {
        public readonly TaskCompletionSource<UnbindReason> Unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource Asked = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void ReceiveLine(string line)
        {
            AskWorker("echo_worker", line);
            Asked.TrySetResult();
        }

        protected override void WorkerReceive(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error}");

        protected override void Unbind(UnbindReason reason) => Unbound.TrySetResult(reason);
    }

    [Fact]
    public async Task Stopping_a_reactor_stops_accepting_drains_worker_asks_closes_with_Shutdown_and_stops_the_WorkerHosts()
    {
        var reactor = Reactors.Start("""packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]""");
        try
        {
            var accepted = new Accepted<SlowAsker>();
            var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new SlowAsker()));
            await Bounded.Until(async () => (await reactor.GetWorkersAsync()).Any(w => w.State == "running"), "echo_worker");
            var host = (await reactor.GetWorkersAsync()).Single().ProcessId!.Value;
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
            var handler = await accepted.Next();
            await client.SendAsync("sleep:800\n");
            await handler.Asked.Task.Within("the ask to be in flight");

            var stopping = reactor.StopAsync();
            await Bounded.Until(() => IsTurnedAway(server.LocalEndPoint.Port), "the server to turn new connections away");
            Assert.False(stopping.IsCompleted, "the reactor must wait for the ask in flight");

            var (reply, reset) = await client.ReadToEndAsync(TimeSpan.FromSeconds(20));
            await stopping.Within("the reactor to stop");

            Assert.Equal("sleep:800\n", System.Text.Encoding.UTF8.GetString(reply));
            Assert.False(reset);
            Assert.Equal(UnbindKind.Shutdown, (await handler.Unbound.Task).Kind);
            await Hosts.GoneAsync(host);
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task Stopping_a_reactor_waits_no_longer_than_the_drain_timeout_for_an_ask_that_hangs()
    {
        var reactor = Reactors.Start("""
            packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]
            packet.reactor.drain-timeout = 1s
            """);
        try
        {
            var accepted = new Accepted<SlowAsker>();
            var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new SlowAsker()));
            await Bounded.Until(async () => (await reactor.GetWorkersAsync()).Any(w => w.State == "running"), "echo_worker");
            var host = (await reactor.GetWorkersAsync()).Single().ProcessId!.Value;
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
            var handler = await accepted.Next();
            await client.SendAsync("sleep:60000\n");
            await handler.Asked.Task.Within("the ask to be in flight");

            // Bounded well below the ask's 60 s: the drain gives up after 1 s, then the connection and the host stop.
            await reactor.StopAsync().Within("the reactor to stop after its drain timeout", TimeSpan.FromSeconds(20));

            var (reply, _) = await client.ReadToEndAsync(TimeSpan.FromSeconds(5));
            Assert.Empty(reply);
            Assert.Equal(UnbindKind.Shutdown, (await handler.Unbound.Task.Within("the connection's unbind")).Kind);
            await Hosts.GoneAsync(host);
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    /// <summary>Whether a new connection to <paramref name="port"/> is closed at once instead of served.</summary>
    private static bool IsTurnedAway(int port)
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            probe.Connect(System.Net.IPAddress.Loopback, port);
            probe.ReceiveTimeout = 500;
            return probe.Receive(new byte[1]) == 0;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return e.SocketErrorCode != System.Net.Sockets.SocketError.TimedOut && e.SocketErrorCode != System.Net.Sockets.SocketError.WouldBlock;
        }
    }

    [Fact]
    public async Task A_WorkerHost_exits_by_itself_when_its_master_goes_away()
    {
        var type = WorkerType.Of(typeof(EchoWorker));
        var start = new HostStart("akka.tcp://gone@127.0.0.1:1/user/workers", "secret", 1, type.Name, null, type.AssemblyPath, type.TypeName,
            new Dictionary<string, string>(), [], 1024, "WARNING", LinkCredentials.Create().ToBase64());
        var exited = new TaskCompletionSource<int>();
        using var host = WorkerHostProcess.Start(Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), null, start, (_, _) => { }, (_, _, _) => { }, (_, code) => exited.TrySetResult(code));

        host.End(); // closes the pipe, as the kernel does when the master dies, even by kill -9

        Assert.Equal(0, await exited.Task.Within("the orphaned WorkerHost to exit", TimeSpan.FromSeconds(10)));
    }
}
