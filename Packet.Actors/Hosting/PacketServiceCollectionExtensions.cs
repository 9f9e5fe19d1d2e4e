using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Packet.Actors.Hosting;

/// <summary>PacketAkka in a Generic Host (<c>Host.CreateApplicationBuilder</c>, ASP.NET Core, a worker service).</summary>
public static class PacketServiceCollectionExtensions
{
    /// <summary>
    /// Adds a PacketAkka reactor that starts and stops with the host (<see cref="PacketHost"/>, also registered
    /// as a service). Handlers are made by the service provider.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddPacket(packet => packet.AddWorker&lt;Shout&gt;().AddServer&lt;Lines&gt;("127.0.0.1", 11007));
    /// </code>
    /// </example>
    public static IServiceCollection AddPacket(this IServiceCollection services, Action<PacketOptions> configure)
    {
        services.Configure(configure);
        services.AddSingleton(provider => new PacketHost(
            provider.GetRequiredService<IOptions<PacketOptions>>().Value, provider, provider.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout));
        services.AddHostedService(provider => provider.GetRequiredService<PacketHost>());
        return services;
    }
}
