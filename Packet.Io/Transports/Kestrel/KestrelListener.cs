using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Kestrel;

/// <summary>A Kestrel listening socket: accepts in a loop and hands each socket to the owner as <see cref="SocketEvents.Connected"/>.</summary>
internal sealed class KestrelListener : ISocketListener
{
    private readonly IConnectionListener _listener;
    private readonly IActorRef _owner;
    private readonly TransportSettings _settings;
    private readonly Task _accepting;
    private volatile bool _unbinding;

    public KestrelListener(IConnectionListener listener, IActorRef owner, TransportSettings settings)
    {
        _listener = listener;
        _owner = owner;
        _settings = settings;
        LocalEndPoint = (IPEndPoint)listener.EndPoint;
        _accepting = AcceptAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    private async Task AcceptAsync()
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await _listener.AcceptAsync();
            }
            catch (Exception e)
            {
                // Kestrel retries the errors an accept loop should survive; anything else ends listening.
                if (!_unbinding) _owner.Tell(new SocketEvents.BindFailed(e));
                return;
            }
            if (connection is null) return; // unbound
            if (_settings.KeepAlive) connection.Features.Get<IConnectionSocketFeature>()?.Socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            _owner.Tell(new SocketEvents.Connected(new KestrelSocket(connection, _settings.KestrelReadSize)));
        }
    }

    public void Unbind() => _ = UnbindAsync();

    private async Task UnbindAsync()
    {
        _unbinding = true;
        await _listener.UnbindAsync();
        await _accepting;
        await _listener.DisposeAsync();
        _owner.Tell(SocketEvents.Unbound.Instance);
    }
}
