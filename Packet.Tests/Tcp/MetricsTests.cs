using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Packet.Actors;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>The reactor's meter, read as a dashboard would, on real connections and a real WorkerHost.</summary>
public sealed class MetricsTests
{
    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }

    [Fact]
    public async Task Active_connections_go_0_then_2_then_0_and_each_ended_connection_records_its_duration_and_bytes()
    {
        await using var reactor = Reactors.Start();
        using var active = new MetricCollector<long>(reactor.Metrics.Meter, "packet.active_connections");
        using var duration = new MetricCollector<double>(reactor.Metrics.Meter, "packet.connection.duration");
        using var received = new MetricCollector<long>(reactor.Metrics.Meter, "packet.connection.received_bytes");
        using var sent = new MetricCollector<long>(reactor.Metrics.Meter, "packet.connection.sent_bytes");
        var server = await reactor.StartServerAsync<Echo>(Loopback.Host, 0);

        Assert.Equal(0, Active(active));
        var clients = new[] { await Loopback.ConnectAsync(server.LocalEndPoint), await Loopback.ConnectAsync(server.LocalEndPoint) };
        foreach (var client in clients)
        {
            await client.SendAsync("ping\n");
            Assert.Equal("ping\n", System.Text.Encoding.ASCII.GetString(await client.ReadExactlyAsync(5, TimeSpan.FromSeconds(10))));
        }
        Assert.Equal(2, Active(active));
        foreach (var client in clients) client.Dispose();
        await Bounded.Until(() => Active(active) == 0, "both connections to end");

        await Bounded.Until(() => duration.GetMeasurementSnapshot().Count == 2, "two connection durations");
        Assert.All(duration.GetMeasurementSnapshot(), m =>
        {
            Assert.Equal("peer_closed", m.Tags["packet.unbind_reason"]);
            Assert.Equal("akka-io", m.Tags["packet.transport"]);
            Assert.InRange(m.Value, 0, 60);
        });
        Assert.Equal(10, received.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(10, sent.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task A_hung_worker_records_its_ask_with_outcome_timeout_and_an_answered_one_with_ok()
    {
        await using var reactor = Reactors.Start("""
            packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]
            packet.workers.ask-timeout = 1s
            packet.workers.on-ask-timeout = keep
            """);
        using var asks = new MetricCollector<double>(reactor.Metrics.Meter, "packet.worker.ask.duration");
        await Hosts.RunningAsync(reactor, "echo_worker");

        Assert.Equal("hello", await reactor.AskWorkerAsync("echo_worker", "hello"));
        await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", "hang"));

        var measured = asks.GetMeasurementSnapshot();
        Assert.Equal(["ok", "timeout"], measured.Select(m => (string)m.Tags["packet.ask.outcome"]!).Order());
        Assert.All(measured, m => Assert.Equal("echo_worker", m.Tags["packet.worker"]));
        Assert.InRange(measured.Single(m => (string)m.Tags["packet.ask.outcome"]! == "timeout").Value, 0.9, 30);
    }

    private static long Active(MetricCollector<long> active)
    {
        active.RecordObservableInstruments();
        return active.LastMeasurement?.Value ?? -1;
    }
}
