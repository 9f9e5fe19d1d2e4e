using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
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
    private readonly SocketConnectionContextFactory _connections;

    public KestrelTransport(TransportSettings settings)
    {
        _settings = settings;
        _connections = new SocketConnectionContextFactory(BlockPool.Install(new SocketConnectionFactoryOptions(), settings.KestrelBlockSize), NullLogger.Instance);
    }

    /// <remarks>
    /// The accept loop is PacketAkka's own (<see cref="Listener"/>), not Kestrel's listener, which retries a
    /// failed accept at once, so it spins a core for as long as the process is out of file descriptors.
    /// </remarks>
    public void Bind(IActorRef owner, IPEndPoint endpoint) => Listener.Bind(owner, endpoint, _settings, Wrap);

    /// <remarks>The owner cancels when it gives up, after <paramref name="timeout"/> or earlier, which ends the connect here.</remarks>
    public void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel) =>
        _ = Dialler.ConnectAsync(owner, endpoint, _settings, cancel, Wrap);

    /// <summary>A connected socket, accepted or dialled, as a Kestrel connection.</summary>
    private KestrelSocket Wrap(Socket socket) => new(_connections.Create(socket), _settings.KestrelReadSize);

    /// <summary>Kestrel's events are <see cref="SocketEvents"/> already.</summary>
    public object Translate(object message, IActorRef sender) => message;

    public void Dispose() => _connections.Dispose();
}
