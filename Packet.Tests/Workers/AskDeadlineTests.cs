using System.Diagnostics;
using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>
/// An ask's deadline starts at AskWorker and is never restarted; a worker is restarted for hanging, not
/// for being busy; a connection can have its answers in the order it asked; and a stop answers every ask
/// it lets start.
/// </summary>
public sealed class AskDeadlineTests
{
    private static Reactor Master(string extra) => Reactors.Start($$"""
        packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests", "Packet.Tests.Workers.PoolWorker, Packet.Tests"]
        packet.workers.ask-timeout = 3s
        packet.reactor.drain-timeout = 1s
        {{extra}}
        """);

    [Fact]
    public async Task An_ask_that_waited_for_a_busy_instance_still_times_out_at_ask_timeout_after_AskWorker()
    {
        var reactor = Master("packet.workers.max-in-flight = 1");
        try
        {
            await Hosts.RunningAsync(reactor, "echo_worker");
            var busy = reactor.AskWorkerAsync("echo_worker", "sleep:2000"); // holds the one slot for 2 s
            await Bounded.Until(() => reactor.PendingAsks == 1, "the first ask");

            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", "hang").Within("the hung ask to fail"));
            clock.Stop();

            // It waited 2 s for the slot and then hung: its 3 s count from the ask, not from the hand-over (which gave 5 s).
            Assert.Contains("did not answer within 00:00:03", error.Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(4.5));
            Assert.Equal("sleep:2000", await busy);
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    [Fact]
    public async Task A_busy_instance_that_keeps_answering_is_not_restarted_when_asks_waiting_for_it_time_out()
    {
        var reactor = Master("packet.workers.max-in-flight = 1");
        try
        {
            var pid = await Hosts.RunningAsync(reactor, "echo_worker");
            var asks = Enumerable.Range(0, 10).Select(_ => Outcome(reactor.AskWorkerAsync("echo_worker", "sleep:600"))).ToArray();
            var outcomes = await Task.WhenAll(asks).Within("the ten asks");

            // At most five run in the 3 s (0.6 s each; fewer on a loaded machine), the rest time out waiting or
            // running: none of that is a hang.
            Assert.InRange(outcomes.Count(o => o == "sleep:600"), 1, 5);
            Assert.All(outcomes.Where(o => o != "sleep:600"), o => Assert.Contains("within 00:00:03", o));
            Assert.Equal(pid, await reactor.AskWorkerAsync("echo_worker", "pid"));
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    private static async Task<string> Outcome(Task<object?> ask)
    {
        try
        {
            return $"{await ask}";
        }
        catch (WorkerException e)
        {
            return e.Message;
        }
    }

    /// <summary>Asks pool_worker (two instances, one ask each) for each line, and writes the answers back as they are handed over.</summary>
    private sealed class Asker(bool inOrder, bool callbacks) : LineConnection
    {
        protected override void PostInit() => OrderWorkerReplies = inOrder;

        protected override void ReceiveLine(string line)
        {
            if (callbacks) AskWorker("pool_worker", line, reply => Answer(reply));
            else AskWorker("pool_worker", line);
        }

        protected override void WorkerReceive(WorkerReply reply) => Answer(reply);

        private void Answer(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error}");
    }

    [Theory]
    [InlineData(true, false, "sleep:700\nquick\n")]
    [InlineData(true, true, "sleep:700\nquick\n")]
    [InlineData(false, false, "quick\nsleep:700\n")]
    public async Task With_OrderWorkerReplies_a_connection_gets_its_answers_in_the_order_it_asked(bool inOrder, bool callbacks, string expected)
    {
        var reactor = Master("");
        try
        {
            await reactor.StartWorkerAsync("pool_worker");
            var server = await reactor.StartServerAsync("127.0.0.1", 0, () => new Asker(inOrder, callbacks));
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);

            await client.SendAsync("sleep:700\nquick\n"); // the two run at once, on the two instances; the second is done first

            Assert.Equal(expected, Encoding.ASCII.GetString(await client.ReadExactlyAsync(expected.Length)));
        }
        finally
        {
            await reactor.StopAsync();
        }
    }

    /// <summary>Asks echo_worker for each line, counting the asks it makes and the answers it gets.</summary>
    private sealed class Counting(int[] counts) : LineConnection
    {
        protected override void ReceiveLine(string line)
        {
            Interlocked.Increment(ref counts[0]);
            AskWorker("echo_worker", line, reply =>
            {
                Interlocked.Increment(ref counts[1]);
                SendLine($"{reply.Data ?? reply.Error}");
            });
        }
    }

    [Fact]
    public async Task A_stopping_reactor_stops_reading_and_answers_every_ask_a_connection_made_before_closing_it()
    {
        var reactor = Master("""
            packet.workers.max-in-flight = 1
            packet.reactor.drain-timeout = 5s
            """);
        var counts = new int[2]; // asks made, answers handed over
        using var sending = new CancellationTokenSource();
        Task? sender = null;
        try
        {
            await Hosts.RunningAsync(reactor, "echo_worker");
            var server = await reactor.StartServerAsync("127.0.0.1", 0, () => new Counting(counts));
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
            sender = Task.Run(async () =>
            {
                // Asks arrive faster than the one instance answers them (20 ms each), so some are always in flight.
                for (var i = 0; i < 2000 && !sending.IsCancellationRequested; i++)
                {
                    await client.SendAsync("sleep:20\n");
                    await Task.Delay(5);
                }
            });
            await Bounded.Until(() => Volatile.Read(ref counts[1]) >= 3, "the first answers");
            var dropped = reactor.DroppedWorkerReplies;

            var clock = Stopwatch.StartNew();
            await reactor.StopAsync().Within("the reactor to stop");

            // Reading stopped first, so the asks in flight were all answered well within drain-timeout, and none was cut off.
            Assert.Equal(Volatile.Read(ref counts[0]), Volatile.Read(ref counts[1]));
            Assert.Equal(dropped, reactor.DroppedWorkerReplies);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"the stop took {clock.Elapsed}: it waited out drain-timeout");
        }
        finally
        {
            sending.Cancel();
            if (sender is not null) await Task.WhenAny(sender, Task.Delay(TimeSpan.FromSeconds(5)));
            await reactor.StopAsync();
        }
    }
}
