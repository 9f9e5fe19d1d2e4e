using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Packet.Actors.Hosting;

/// <summary>
/// The reactor of a Generic Host, added by <see cref="PacketServiceCollectionExtensions.AddPacket(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{PacketOptions})"/>: it starts
/// with the host (workers, then servers) and stops with it, gracefully, within the host's shutdown timeout.
/// Take it from the service provider for the reactor and the servers' bound addresses.
/// </summary>
public sealed class PacketHost : IHostedService, IAsyncDisposable
{
    private readonly PacketOptions _options;
    private readonly IServiceProvider _services;
    private readonly TimeSpan _shutdownTimeout;
    private Reactor? _reactor;
    private IReadOnlyList<Server> _servers = [];

    internal PacketHost(PacketOptions options, IServiceProvider services, TimeSpan shutdownTimeout)
    {
        _options = options;
        _services = services;
        _shutdownTimeout = shutdownTimeout;
    }

    /// <summary>The running reactor.</summary>
    /// <exception cref="InvalidOperationException">The host has not started it yet.</exception>
    public Reactor Reactor => _reactor ?? throw new InvalidOperationException("the PacketAkka reactor starts with the host; it has not started yet");

    /// <summary>The servers, in the order they were added, with their bound addresses (<see cref="Server.LocalEndPoint"/>).</summary>
    public IReadOnlyList<Server> Servers => _servers;

    /// <summary>Starts the reactor, logging to the host's <see cref="ILoggerFactory"/>, then each worker (waiting until it takes asks), then each server.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var addresses = _options.Servers(); // a bad one stops the start before anything runs
        var reactor = Reactor.Start(_options.ReactorConfig(), _services.GetRequiredService<ILoggerFactory>());
        _reactor = reactor;
        await StartWorkersAndServersAsync(reactor, addresses, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts the reactor on an application's actor system (<see cref="PacketAkkaHostingExtensions.WithPacket"/>), made
    /// with the worker <paramref name="link"/>'s credentials its setup has; its drains are cut short at three quarters of the host's shutdown timeout after <paramref name="stopping"/>.
    /// </summary>
    internal async Task StartOnAsync(ActorSystem system, Workers.Protocol.LinkCredentials? link, CancellationToken stopping)
    {
        var addresses = _options.Servers();
        var reactor = new Reactor(system, system.Settings.Config, link, Reactor.Role.Application);
        _reactor = reactor;
        stopping.Register(() => reactor.HurryAfter(_shutdownTimeout * 0.75));
        await StartWorkersAndServersAsync(reactor, addresses, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task StartWorkersAndServersAsync(Reactor reactor, IReadOnlyList<(string Host, int Port, Type Handler)> addresses, CancellationToken cancellationToken)
    {
        foreach (var (worker, key) in _options.Workers)
            await reactor.StartWorkerOfTypeAsync(worker, key, null).WaitAsync(cancellationToken).ConfigureAwait(false);
        var servers = new List<Server>();
        foreach (var (host, port, handler) in addresses)
        {
            var make = ActivatorUtilities.CreateFactory(handler, Type.EmptyTypes); // once per server, not per connection
            servers.Add(await reactor.StartServerAsync(host, port, () => (Connection)make(_services, null)).WaitAsync(cancellationToken).ConfigureAwait(false));
        }
        _servers = servers;
    }

    /// <summary>The host of the reactor <see cref="PacketAkkaHostingExtensions.WithPacket"/> runs on <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">No reactor runs on <paramref name="system"/>, or it has not started yet.</exception>
    public static PacketHost Of(ActorSystem system) =>
        system.WithExtension<Hosts.Slot, Hosts>().Host
        ?? throw new InvalidOperationException($"no PacketAkka reactor runs on actor system {system.Name} (yet): add one with WithPacket in services.AddAkka");

    /// <summary>Where <see cref="Of"/> finds a system's host: an Akka extension, one per actor system.</summary>
    internal sealed class Hosts : ExtensionIdProvider<Hosts.Slot>
    {
        public sealed class Slot : IExtension
        {
            public PacketHost? Host { get; set; }
        }

        public override Slot CreateExtension(ExtendedActorSystem system) => new();
    }

    /// <summary>
    /// Stops the reactor gracefully (<see cref="Reactor.StopAsync"/>), cutting the drains short at three
    /// quarters of the host's shutdown timeout, or when <paramref name="cancellationToken"/> is cancelled,
    /// so that the rest of the stop still fits in the timeout.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_reactor is not { } reactor) return;
        using var hurry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        hurry.CancelAfter(_shutdownTimeout * 0.75);
        await reactor.StopAsync(hurry.Token).ConfigureAwait(false);
    }

    /// <summary>Stops the reactor if the host did not.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_reactor is { } reactor) await reactor.StopAsync().ConfigureAwait(false);
    }
}
