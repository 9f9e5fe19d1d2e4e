using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>
/// Asks are bounded at every step, at their default limits: per connection (reading stops), per worker
/// queue at the master (a clear "busy" error), and an ask whose connection has closed never reaches a worker.
/// </summary>
public sealed class AskLimitTests
{
    /// <summary>Asks echo_worker for each line and writes the answer back.</summary>
    private sealed class EchoAsker : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error}");
    }

    private static Reactor Master(string? extra = null) => Reactors.Start($$"""
        packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]
        packet.reactor.drain-timeout = 1s
        {{extra}}
        """);

    private static Task Running(Reactor reactor) => Hosts.RunningAsync(reactor, "echo_worker");

    [Fact]
    public async Task A_pipelining_client_is_slowed_at_max_asks_per_connection_not_buffered_in_the_master()
    {
        var reactor = Master();
        try
        {
            Assert.Equal(64, reactor.System.Settings.Config.GetInt("packet.workers.max-asks-per-connection"));
            await Running(reactor);
            var server = await reactor.StartServerAsync<EchoAsker>(Loopback.Host, 0);
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
            const int lines = 3000;
            var request = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("sleep:1\n", lines)));

            var sending = client.SendAsync(request, System.Net.Sockets.SocketFlags.None);
            var most = 0;
            var reading = client.ReadExactlyAsync(request.Length, TimeSpan.FromSeconds(60));
            while (!reading.IsCompleted)
            {
                most = Math.Max(most, reactor.PendingAsks);
                await Task.Delay(1);
            }
            await sending;

            Assert.Equal(request, await reading); // every line answered, in order
            // The bound, plus the asks of the read that reached it: Akka.IO reads at most 4 KiB, 512 of these lines.
            Assert.InRange(most, 1, 64 + 4096 / 8);
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task An_ask_past_max_waiting_asks_for_one_worker_fails_at_once_as_busy()
    {
        var reactor = Master();
        try
        {
            Assert.Equal(10_000, reactor.System.Settings.Config.GetInt("packet.workers.max-waiting"));
            Assert.Equal(256, reactor.System.Settings.Config.GetInt("packet.workers.max-in-flight"));
            await Running(reactor);
            // 256 asks fill the one instance (max-in-flight), 10,000 more wait for it, and the next has no room.
            var held = Enumerable.Range(0, 256 + 10_000).Select(_ => reactor.AskWorkerAsync("echo_worker", "hang")).ToArray();
            await Bounded.Until(async () =>
            {
                try
                {
                    await reactor.AskWorkerAsync("echo_worker", "probe");
                    return false;
                }
                catch (WorkerException e)
                {
                    Assert.Contains("is busy: 10000 asks are waiting for it (packet.workers.max-waiting)", e.Message);
                    return true;
                }
            }, "an ask to be refused as busy");
            Assert.All(held, ask => Assert.False(ask.IsCompleted));
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task An_ask_past_max_waiting_bytes_for_one_worker_fails_at_once_as_busy()
    {
        var reactor = Master();
        try
        {
            Assert.Equal(256L << 20, reactor.System.Settings.Config.GetByteSize("packet.workers.max-waiting-bytes"));
            await Running(reactor);
            var mib = new byte[1 << 20];
            _ = Enumerable.Range(0, 256).Select(_ => reactor.AskWorkerAsync("echo_worker", "hang")).ToArray(); // fill the instance (max-in-flight): the rest wait
            var waiting = Enumerable.Range(0, 255).Select(_ => reactor.AskWorkerAsync("echo_worker", mib)).ToArray(); // 255 MiB and their tags

            var busy = await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", mib).Within("the ask to be refused"));
            Assert.Contains("packet.workers.max-waiting-bytes", busy.Message);
            Assert.All(waiting, ask => Assert.False(ask.IsCompleted));
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task An_ask_to_every_host_fails_at_once_as_busy_on_a_host_whose_instance_holds_max_in_flight_asks()
    {
        var reactor = Master();
        try
        {
            Assert.Equal(256, reactor.System.Settings.Config.GetInt("packet.workers.max-in-flight"));
            await Running(reactor);
            Assert.Equal("first", Assert.Single(await reactor.AskEveryHostAsync("echo_worker", "first").Within("an ask to every host")).Reply.Data);
            var held = Enumerable.Range(0, 256).Select(_ => reactor.AskWorkerAsync("echo_worker", "hang")).ToArray(); // fill the instance
            await Bounded.Until(() => reactor.PendingAsks == 256, "the instance to hold 256 asks");

            var busy = Assert.Single(await reactor.AskEveryHostAsync("echo_worker", "again").Within("the ask to every host to be refused"));
            Assert.Equal("worker echo_worker is busy on this machine: it holds as many asks as it may (max-in-flight)", busy.Reply.Error);
            Assert.All(held, ask => Assert.False(ask.IsCompleted));
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task A_reply_due_to_a_connection_that_closed_is_counted_as_dropped_when_it_closes_and_only_once()
    {
        var reactor = Master("packet.workers.max-in-flight = 1");
        try
        {
            await Running(reactor);
            var server = await reactor.StartServerAsync<EchoAsker>(Loopback.Host, 0);
            var dropped = reactor.DroppedWorkerReplies;
            using (var client = await Loopback.ConnectAsync(server.LocalEndPoint))
            {
                await client.SendAsync("sleep:6000\n");
                await Bounded.Until(() => reactor.PendingAsks == 1, "the ask");
                client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            }

            // Counted when the connection closes, not when (or whether) the reply gets back: before, a reply
            // that raced the connection's stop went to dead letters uncounted, and the others were counted 6 s later.
            await Bounded.Until(() => reactor.DroppedWorkerReplies == dropped + 1, "the reply to be counted as dropped", TimeSpan.FromSeconds(4));
            Assert.Equal("after", await reactor.AskWorkerAsync("echo_worker", "after")); // runs once the sleep's reply is back
            Assert.Equal(dropped + 1, reactor.DroppedWorkerReplies);
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task The_asks_of_a_closed_connection_still_waiting_for_a_worker_are_dropped_and_counted_never_run()
    {
        var reactor = Master("packet.workers.max-in-flight = 1");
        try
        {
            await Running(reactor);
            var server = await reactor.StartServerAsync<EchoAsker>(Loopback.Host, 0);
            var (replies, asks) = (reactor.DroppedWorkerReplies, reactor.DroppedWorkerAsks);
            using (var client = await Loopback.ConnectAsync(server.LocalEndPoint))
            {
                await client.SendAsync("sleep:1000\n" + string.Concat(Enumerable.Repeat("mark\n", 10)));
                await Bounded.Until(() => reactor.PendingAsks == 11, "the 11 asks");
                client.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            } // the client resets and leaves (a FIN would have the asks answered first): one ask runs, ten wait for the busy instance

            await Bounded.Until(() => reactor.DroppedWorkerReplies == replies + 11, "the 11 replies to be counted as dropped");
            await Bounded.Until(() => reactor.DroppedWorkerAsks == asks + 10, "the 10 waiting asks to be dropped");
            Assert.Equal(0, await reactor.AskWorkerAsync("echo_worker", "marks")); // after the sleep: no mark ever ran
        }
        finally
        {
            await reactor.StopAsync();
        }
    }
}
