using Microsoft.Extensions.Configuration;
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

    /// <summary>
    /// As <see cref="AddPacket(IServiceCollection, Action{PacketOptions})"/>, with settings and server addresses
    /// from <paramref name="configuration"/> (<see cref="PacketOptions.Configuration"/>), usually
    /// <c>builder.Configuration.GetSection("Packet")</c>.
    /// </summary>
    /// <example>
    /// <code>
    /// // appsettings.json: "Packet": { "Servers": { "lines": { "Host": "127.0.0.1", "Port": 11007 } },
    /// //                             "Config": { "packet": { "tcp": { "transport": "sockets" } } } }
    /// builder.Services.AddPacket(builder.Configuration.GetSection("Packet"), packet => packet.AddServer&lt;Lines&gt;("lines"));
    /// </code>
    /// </example>
    public static IServiceCollection AddPacket(this IServiceCollection services, IConfiguration configuration, Action<PacketOptions>? configure = null) =>
        services.AddPacket(options =>
        {
            options.Configuration = configuration;
            configure?.Invoke(options);
        });
}
