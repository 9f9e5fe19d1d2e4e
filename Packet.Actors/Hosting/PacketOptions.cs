using System.Globalization;
using Akka.Configuration;
using Microsoft.Extensions.Configuration;

namespace Packet.Actors.Hosting;

/// <summary>
/// What <see cref="PacketServiceCollectionExtensions.AddPacket(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{PacketOptions})"/>
/// runs: the reactor's configuration, and the servers and workers it starts, in the order they were
/// added (workers before servers).
/// </summary>
public sealed class PacketOptions
{
    private readonly List<(string? Name, string Host, int Port, Type Handler)> _servers = [];
    private readonly List<(Type Worker, string? Key)> _workers = [];

    /// <summary>
    /// Overrides of <see cref="Reactor.DefaultConfig"/>, as <see cref="Reactor.Start(Akka.Configuration.Config?)"/> takes them, or
    /// <see langword="null"/> for the defaults. Workers are turned on when any is added.
    /// </summary>
    public Config? Config { get; set; }

    /// <summary>
    /// The application's configuration section for PacketAkka (<c>Packet</c> in <c>appsettings.json</c>), or
    /// <see langword="null"/>. Its <c>Config</c> subsection is HOCON in configuration form, over <see cref="Config"/>
    /// (<c>"Config": { "packet": { "tcp": { "transport": "sockets" } } }</c>, or the environment variable
    /// <c>Packet__Config__packet__tcp__transport=sockets</c>), so a deployment can change any setting, workers
    /// included (<c>packet.workers.root</c>, <c>types</c>); its <c>Servers</c> subsection gives the address of each
    /// server added by name (<see cref="AddServer{THandler}(string)"/>).
    /// </summary>
    public IConfiguration? Configuration { get; set; }

    /// <summary>
    /// Listens on <paramref name="host"/>:<paramref name="port"/> (0 for a free port; see
    /// <see cref="PacketHost.Servers"/>) with a <typeparamref name="THandler"/> per connection, made by the
    /// host's service provider, so its constructor may take services.
    /// </summary>
    public PacketOptions AddServer<THandler>(string host, int port) where THandler : Connection
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _servers.Add((null, host, port, typeof(THandler)));
        return this;
    }

    /// <summary>
    /// Listens with a <typeparamref name="THandler"/> per connection (made by the host's service provider) on
    /// the address <see cref="Configuration"/> gives under <c>Servers:<paramref name="name"/></c>: <c>Host</c> and
    /// <c>Port</c> (0 for a free port), both required; a missing or bad one stops the host's start with its key.
    /// </summary>
    public PacketOptions AddServer<THandler>(string name) where THandler : Connection
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _servers.Add((name, "", 0, typeof(THandler)));
        return this;
    }

    /// <summary>Starts <typeparamref name="TWorker"/> (with <paramref name="key"/>, for a keyed worker) before the servers listen.</summary>
    public PacketOptions AddWorker<TWorker>(string? key = null) where TWorker : Worker
    {
        _workers.Add((typeof(TWorker), key));
        return this;
    }

    /// <summary>The servers, each with its address: given in code, or read from <see cref="Configuration"/> by name.</summary>
    /// <exception cref="ConfigurationException">A named server's address is missing or bad; the message names the key.</exception>
    internal IReadOnlyList<(string Host, int Port, Type Handler)> Servers() =>
        _servers.Select(server => server.Name is { } name ? (Read(name, "Host", out _), Port(name), server.Handler) : (server.Host, server.Port, server.Handler)).ToArray();

    private int Port(string name)
    {
        var text = Read(name, "Port", out var key);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new ConfigurationException($"PacketAkka setting '{key}' must be a port from 0 to 65535, not \"{text}\"");
    }

    private string Read(string name, string field, out string key)
    {
        var section = Configuration?.GetSection("Servers").GetSection(name).GetSection(field);
        key = section?.Path ?? $"Servers:{name}:{field}";
        return section?.Value is { Length: > 0 } value
            ? value
            : throw new ConfigurationException($"PacketAkka setting '{key}' is missing: server '{name}' was added by name, so its address comes from configuration");
    }

    internal IReadOnlyList<(Type Worker, string? Key)> Workers => _workers;

    /// <summary><see cref="Configuration"/>'s <c>Config</c> over <see cref="Config"/>, with workers turned on when any was added.</summary>
    internal Config ReactorConfig()
    {
        var config = Config ?? Config.Empty;
        if (Configuration is { } configuration && ConfigurationHocon.From(configuration.GetSection("Config")) is { IsEmpty: false } bound) config = bound.WithFallback(config);
        return _workers.Count == 0 ? config : ConfigurationFactory.ParseString("packet.workers.enabled = on").WithFallback(config);
    }
}
