using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Packet.Actors;
using Packet.Actors.Workers;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>A WorkerHost's own log lines reach the master's log at their own level, tagged with the worker's name.</summary>
public sealed class WorkerHostLogTests
{
    [Theory]
    [InlineData("[ERROR][12/05/2026 06:00:00.000Z][Thread 0001][worker] boom", false, LogLevel.ErrorLevel)]
    [InlineData("[WARNING][12/05/2026 06:00:00.000Z][Thread 0001][worker] careful", false, LogLevel.WarningLevel)]
    [InlineData("[INFO][12/05/2026 06:00:00.000Z][Thread 0001][worker] fine", true, LogLevel.InfoLevel)]
    [InlineData("[DEBUG][12/05/2026 06:00:00.000Z][Thread 0001][worker] detail", false, LogLevel.DebugLevel)]
    [InlineData("a worker's own Console.WriteLine", false, LogLevel.InfoLevel)]
    [InlineData("Unhandled exception. System.Exception: a crash", true, LogLevel.WarningLevel)]
    public void A_host_line_keeps_its_own_level_and_other_lines_go_by_stream(string line, bool standardError, LogLevel level)
    {
        Assert.Equal(level, WorkersRuntime.HostLineLevel(line, standardError));
    }

    /// <summary>Forwards the events it is subscribed to into a queue.</summary>
    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
    }

    [Fact]
    public async Task A_warning_the_host_logs_is_a_warning_in_the_master_at_the_default_level()
    {
        await using var reactor = Reactors.Start("""packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]""");
        var events = new ConcurrentQueue<LogEvent>();
        var collector = reactor.System.ActorOf(Props.Create(() => new Collector(events)));
        reactor.System.EventStream.Subscribe(collector, typeof(Warning));
        await Hosts.RunningAsync(reactor, "echo_worker");

        await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", "throw"));

        // The host logs it on its standard output; at WARNING (the tests' level) an info line would be dropped.
        await Bounded.Until(() => events.Any(e => $"{e.Message}".Contains("[echo_worker]") && $"{e.Message}".Contains("ReceiveData threw")),
            "the host's warning as a warning of the master's");
    }
}
