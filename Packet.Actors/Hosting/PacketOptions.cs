using Akka.Configuration;

namespace Packet.Actors.Hosting;

/// <summary>
/// What <see cref="PacketServiceCollectionExtensions.AddPacket"/> runs: the reactor's configuration, and
/// the servers and workers it starts, in the order they were added (workers before servers).
/// </summary>
public sealed class PacketOptions
{
    private readonly List<(string Host, int Port, Type Handler)> _servers = [];
    private readonly List<(Type Worker, string? Key)> _workers = [];

    /// <summary>
    /// Overrides of <see cref="Reactor.DefaultConfig"/>, as <see cref="Reactor.Start(Akka.Configuration.Config?)"/> takes them, or
    /// <see langword="null"/> for the defaults. Workers are turned on when any is added.
    /// </summary>
    public Config? Config { get; set; }

    /// <summary>
    /// Listens on <paramref name="host"/>:<paramref name="port"/> (0 for a free port; see
    /// <see cref="PacketHost.Servers"/>) with a <typeparamref name="THandler"/> per connection, made by the
    /// host's service provider, so its constructor may take services.
    /// </summary>
    public PacketOptions AddServer<THandler>(string host, int port) where THandler : Connection
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _servers.Add((host, port, typeof(THandler)));
        return this;
    }

    /// <summary>Starts <typeparamref name="TWorker"/> (with <paramref name="key"/>, for a keyed worker) before the servers listen.</summary>
    public PacketOptions AddWorker<TWorker>(string? key = null) where TWorker : Worker
    {
        _workers.Add((typeof(TWorker), key));
        return this;
    }

    internal IReadOnlyList<(string Host, int Port, Type Handler)> Servers => _servers;

    internal IReadOnlyList<(Type Worker, string? Key)> Workers => _workers;

    /// <summary><see cref="Config"/>, with workers turned on when any was added.</summary>
    internal Config ReactorConfig()
    {
        var config = Config ?? Config.Empty;
        return _workers.Count == 0 ? config : ConfigurationFactory.ParseString("packet.workers.enabled = on").WithFallback(config);
    }
}
