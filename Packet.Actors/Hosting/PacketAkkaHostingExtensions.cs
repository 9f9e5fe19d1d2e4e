using Akka.Actor;
using Akka.Configuration;
using Akka.DependencyInjection;
using Akka.Hosting;
using Akka.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Packet.Actors.Hosting;

/// <summary>PacketAkka on the actor system of an application that runs one with Akka.Hosting (<c>services.AddAkka</c>).</summary>
public static class PacketAkkaHostingExtensions
{
    /// <summary>
    /// Runs a PacketAkka reactor on the actor system this builder makes, instead of one of its own: its
    /// settings join the system's HOCON (beneath the application's own), and once the system has started,
    /// the reactor starts its workers, then its servers, with handlers made by the application's services.
    /// <see cref="PacketHost.Of"/> gives it, and the servers' bound addresses. It stops with the actor system,
    /// its drains being tasks of the system's <c>CoordinatedShutdown</c>, cut short at three quarters of
    /// the host's shutdown timeout as <see cref="PacketServiceCollectionExtensions.AddPacket(IServiceCollection, Action{PacketOptions})"/>'s are.
    /// </summary>
    /// <remarks>
    /// Workers need the actor system's remoting to themselves: PacketAkka configures it (loopback, TLS on a
    /// certificate made for the run); an actor system that runs remoting or a cluster of its own is refused
    /// at start with a message that says so. Use <c>services.AddPacket</c> for a reactor of its own then.
    /// </remarks>
    /// <example>
    /// <code>
    /// builder.Services.AddAkka("app", akka => akka.WithPacket(packet => packet.AddWorker&lt;Shout&gt;().AddServer&lt;Lines&gt;("127.0.0.1", 11007)));
    /// </code>
    /// </example>
    public static AkkaConfigurationBuilder WithPacket(this AkkaConfigurationBuilder builder, Action<PacketOptions> configure)
    {
        var options = new PacketOptions();
        configure(options);
        var plan = Reactor.PlanOf(options.ReactorConfig(), null, null);
        builder.AddHocon(plan.Config, HoconAddMode.Append);
        foreach (var setup in plan.Setups) builder.AddSetup(setup);
        builder.AddStartup(async (system, _) =>
        {
            if (plan.Link is not null) RefuseRemotingOfItsOwn(system);
            var services = (DependencyResolver.For(system).Resolver as ServiceProviderDependencyResolver)?.ServiceProvider
                ?? throw new InvalidOperationException("WithPacket needs the actor system Akka.Hosting makes (services.AddAkka), which carries the application's services");
            var host = new PacketHost(options, services, services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
            await host.StartOnAsync(system, plan.Link, services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping).ConfigureAwait(false);
            system.WithExtension<PacketHost.Hosts.Slot, PacketHost.Hosts>().Host = host;
        });
        return builder;
    }

    /// <summary>The worker link's settings must be the ones in effect: its own provider, on loopback, with TLS.</summary>
    private static void RefuseRemotingOfItsOwn(ActorSystem system)
    {
        var config = system.Settings.Config;
        var provider = ((ExtendedActorSystem)system).Provider;
        if (provider.GetType() == typeof(RemoteActorRefProvider)
            && config.GetString("akka.remote.dot-netty.tcp.hostname") == "127.0.0.1"
            && config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"))
            return;
        throw new ConfigurationException(
            $"PacketAkka workers need the actor system's remoting to themselves (loopback, TLS on the run's own certificate), but actor system {system.Name} " +
            $"runs remoting of its own ({provider.GetType().Name}, hostname {config.GetString("akka.remote.dot-netty.tcp.hostname")}): " +
            "run PacketAkka in a reactor of its own with services.AddPacket, or leave workers out of WithPacket");
    }
}
