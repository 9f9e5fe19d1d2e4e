using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Packet.Actors;
using Packet.Actors.Hosting;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Hosting;

/// <summary>A reactor in a Generic Host, as an application hosts it: started and stopped by the host, handlers made by its services.</summary>
public sealed class GenericHostTests
{
    /// <summary>A service a handler takes in its constructor: it records how each connection ended.</summary>
    public sealed class Ends
    {
        public ConcurrentQueue<UnbindKind> Kinds { get; } = new();
    }

    /// <summary>Echoes each line through the worker, with a greeting from its constructor's service.</summary>
    private sealed class Lines(Ends ends) : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error}");

        protected override void Unbind(UnbindReason reason) => ends.Kinds.Enqueue(reason.Kind);
    }

    [Fact]
    public async Task Stopping_the_host_with_a_2_s_shutdown_timeout_returns_within_it_unbinds_every_connection_and_leaves_no_WorkerHost()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Services.AddSingleton<Ends>();
        builder.Services.AddPacket(packet => packet.AddWorker<EchoWorker>().AddServer<Lines>(Loopback.Host, 0));
        builder.Logging.ClearProviders().AddFakeLogging();
        using var host = builder.Build();
        await host.StartAsync();
        var packet = host.Services.GetRequiredService<PacketHost>();
        var endpoint = packet.Servers.Single().LocalEndPoint;
        var workerHost = (await packet.Reactor.GetWorkersAsync()).Single().ProcessId!.Value;
        // The reactor logs to the host's logger factory.
        await Bounded.Until(() => host.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Message == $"worker echo_worker is up (host {workerHost})"),
            "the worker's start in the host's log");

        var clients = new[] { await Loopback.ConnectAsync(endpoint), await Loopback.ConnectAsync(endpoint) };
        foreach (var client in clients)
        {
            await client.SendAsync("hello\n");
            Assert.Equal("hello\n", System.Text.Encoding.ASCII.GetString(await client.ReadExactlyAsync(6, TimeSpan.FromSeconds(30))));
        }
        // One client has an ask in flight that takes 20 s: a graceful stop would wait for its answer (up to
        // packet.reactor.drain-timeout, 10 s), far longer than the host allows.
        await clients[0].SendAsync("sleep:20000\n");
        await Bounded.Until(() => packet.Reactor.PendingAsks == 1, "the slow ask to be in flight");
        var clock = Stopwatch.StartNew();
        await host.StopAsync();
        clock.Stop();

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(2));
        Assert.True(packet.Reactor.WhenStopped.IsCompleted);
        Assert.Equal([UnbindKind.Shutdown, UnbindKind.Shutdown], host.Services.GetRequiredService<Ends>().Kinds);
        await Assert.ThrowsAnyAsync<SocketException>(() => Loopback.ConnectAsync(endpoint));
        await Hosts.GoneAsync(workerHost);
        foreach (var client in clients) client.Dispose();
    }

    [Fact]
    public void The_reactor_is_not_there_before_the_host_starts_it()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPacket(packet => packet.AddServer<Lines>(Loopback.Host, 0));
        using var host = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<PacketHost>().Reactor);
        Assert.Contains("starts with the host", error.Message);
    }

    [Fact]
    public async Task Servers_settings_and_workers_come_from_IConfiguration_as_appsettings_or_environment_variables_give_them()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Packet:Servers:lines:Host"] = Loopback.Host,
            ["Packet:Servers:lines:Port"] = "0",
            ["Packet:Config:packet:tcp:transport"] = "sockets",
            ["Packet:Config:packet:workers:ask-timeout"] = "7s",
            ["Packet:Config:packet:workers:types:0"] = "Packet.Tests.Workers.EchoWorker, Packet.Tests",
            ["Packet:Config:akka:loglevel"] = "WARNING",
        });
        builder.Services.AddSingleton<Ends>();
        builder.Services.AddPacket(builder.Configuration.GetSection("Packet"), packet => packet.AddServer<Lines>("lines"));
        using var host = builder.Build();
        await host.StartAsync();
        var packet = host.Services.GetRequiredService<PacketHost>();

        var settings = packet.Reactor.System.Settings.Config;
        Assert.Equal("sockets", settings.GetString("packet.tcp.transport"));
        Assert.Equal(TimeSpan.FromSeconds(7), settings.GetTimeSpan("packet.workers.ask-timeout"));
        using var client = await Loopback.ConnectAsync(packet.Servers.Single().LocalEndPoint);
        await client.SendAsync("from configuration\n");
        Assert.Equal("from configuration\n", System.Text.Encoding.ASCII.GetString(await client.ReadExactlyAsync(19, TimeSpan.FromSeconds(30))));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_server_added_by_name_without_its_port_in_configuration_stops_the_start_with_the_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Packet:Servers:lines:Host"] = Loopback.Host });
        builder.Services.AddSingleton<Ends>();
        builder.Services.AddPacket(builder.Configuration.GetSection("Packet"), packet => packet.AddServer<Lines>("lines"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<Akka.Configuration.ConfigurationException>(() => host.StartAsync());

        Assert.Contains("'Packet:Servers:lines:Port' is missing", error.Message);
        await host.Services.GetRequiredService<PacketHost>().DisposeAsync();
    }
}
