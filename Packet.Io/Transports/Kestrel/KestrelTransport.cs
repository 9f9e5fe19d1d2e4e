using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Kestrel;

/// <summary>
/// Kestrel's socket transport (from the ASP.NET Core shared framework) under PacketAkka's actors. Each
/// socket is a Kestrel connection with a pair of pipes, driven by <see cref="KestrelSocket"/>; no actor
/// exists below the connection actor. Kestrel rents pooled memory only while bytes are in flight, so an
/// idle connection holds no buffer.
/// </summary>
internal sealed class KestrelTransport : ITransport
{
    private readonly TransportSettings _settings;
    private readonly SocketTransportFactory _listeners;
    private readonly SocketConnectionContextFactory _dialled;

    public KestrelTransport(TransportSettings settings)
    {
        _settings = settings;
        _listeners = new SocketTransportFactory(
            Options.Create(BlockPool.Install(new SocketTransportOptions { NoDelay = settings.NoDelay, Backlog = settings.Backlog }, settings.KestrelBlockSize)),
            NullLoggerFactory.Instance);
        _dialled = new SocketConnectionContextFactory(BlockPool.Install(new SocketConnectionFactoryOptions(), settings.KestrelBlockSize), NullLogger.Instance);
    }

    public void Bind(IActorRef owner, IPEndPoint endpoint) => _ = BindAsync(owner, endpoint);

    private async Task BindAsync(IActorRef owner, IPEndPoint endpoint)
    {
        try
        {
            var listener = await _listeners.BindAsync(endpoint);
            owner.Tell(new SocketEvents.Bound(new KestrelListener(listener, owner, _settings)));
        }
        catch (Exception e)
        {
            owner.Tell(new SocketEvents.BindFailed(e));
        }
    }

    /// <remarks>The owner cancels when it gives up, after <paramref name="timeout"/> or earlier, which ends the connect here.</remarks>
    public void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel) =>
        _ = Dialler.ConnectAsync(owner, endpoint, cancel, socket =>
        {
            socket.NoDelay = _settings.NoDelay;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, _settings.KeepAlive);
            return new KestrelSocket(_dialled.Create(socket), _settings.KestrelReadSize);
        });

    /// <summary>Kestrel's events are <see cref="SocketEvents"/> already.</summary>
    public object Translate(object message, IActorRef sender) => message;

    public void Dispose() => _dialled.Dispose();
}
