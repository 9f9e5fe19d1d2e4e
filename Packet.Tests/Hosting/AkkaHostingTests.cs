using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Packet.Actors;
using Packet.Actors.Hosting;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Hosting;

/// <summary>A reactor on the actor system of an application that runs one with Akka.Hosting.</summary>
public sealed class AkkaHostingTests
{
    /// <summary>The application's own actor.</summary>
    private sealed class Pong : ReceiveActor;

    /// <summary>Echoes each line through the worker, with the name of the application's own actor, from the registry its services give.</summary>
    private sealed class Lines(GenericHostTests.Ends ends, ActorRegistry registry) : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error} {registry.Get<Pong>().Path.Name}");

        protected override void Unbind(UnbindReason reason) => ends.Kinds.Enqueue(reason.Kind);
    }

    [Fact]
    public async Task WithPacket_runs_the_reactor_and_its_worker_on_the_applications_actor_system_and_stops_with_it()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<GenericHostTests.Ends>();
        builder.Services.AddAkka("app", akka => akka
            .AddHocon("akka.loglevel = WARNING", HoconAddMode.Prepend)
            .WithActors((system, registry) => registry.Register<Pong>(system.ActorOf(Props.Create<Pong>(), "pong")))
            .WithPacket(packet => packet.AddWorker<EchoWorker>().AddServer<Lines>(Loopback.Host, 0)));
        using var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var packet = PacketHost.Of(system);
        Assert.Same(system, packet.Reactor.System);
        var workerHost = (await packet.Reactor.GetWorkersAsync()).Single().ProcessId!.Value;

        using var client = await Loopback.ConnectAsync(packet.Servers.Single().LocalEndPoint);
        await client.SendAsync("hello\n");
        Assert.Equal("hello pong\n", System.Text.Encoding.ASCII.GetString(await client.ReadExactlyAsync(11, TimeSpan.FromSeconds(30))));

        await host.StopAsync();
        await packet.Reactor.WhenStopped.Within("the reactor to stop with the actor system");
        Assert.Equal([UnbindKind.Shutdown], host.Services.GetRequiredService<GenericHostTests.Ends>().Kinds);
        await Hosts.GoneAsync(workerHost);
    }

    [Fact]
    public async Task Workers_on_an_actor_system_with_remoting_of_its_own_are_refused_with_what_to_do()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("app", akka => akka
            .AddHocon("""
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp.hostname = localhost
                """, HoconAddMode.Prepend)
            .WithPacket(packet => packet.AddWorker<EchoWorker>()));
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains("run PacketAkka in a reactor of its own with services.AddPacket", error.ToString());
        await host.Services.GetRequiredService<ActorSystem>().Terminate();
    }

    [Fact]
    public void Of_an_actor_system_without_a_reactor_says_how_to_add_one()
    {
        using var system = ActorSystem.Create("bare", "akka.loglevel = WARNING");

        var error = Assert.Throws<InvalidOperationException>(() => PacketHost.Of(system));

        Assert.Contains("add one with WithPacket", error.Message);
    }
}
