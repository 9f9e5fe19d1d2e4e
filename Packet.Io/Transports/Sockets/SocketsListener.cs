using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace Packet.Io.Transports.Sockets;

/// <summary>A listening socket: accepts in a loop and hands each socket to the owner as <see cref="SocketEvents.Connected"/>.</summary>
internal sealed class SocketsListener : ISocketListener
{
    private readonly Socket _listener;
    private readonly IActorRef _owner;
    private readonly SocketsTransport _transport;
    private readonly Task _accepting;
    private volatile bool _unbinding;

    public SocketsListener(Socket listener, IActorRef owner, SocketsTransport transport)
    {
        _listener = listener;
        _owner = owner;
        _transport = transport;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync();
            }
            catch (SocketException e) when (!_unbinding && e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // the peer gave up before its connection was accepted
            }
            catch (Exception e)
            {
                if (!_unbinding) _owner.Tell(new SocketEvents.BindFailed(e));
                return;
            }
            _owner.Tell(new SocketEvents.Connected(_transport.Wrap(socket)));
        }
    }

    public void Unbind() => _ = UnbindAsync();

    private async Task UnbindAsync()
    {
        _unbinding = true;
        _listener.Dispose();
        await _accepting;
        _owner.Tell(SocketEvents.Unbound.Instance);
    }
}
