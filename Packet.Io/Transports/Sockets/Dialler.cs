using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Sockets;

/// <summary>Dials a plain <see cref="Socket"/> for the sockets transport.</summary>
internal static class Dialler
{
    /// <summary>
    /// Connects to <paramref name="endpoint"/>; <paramref name="owner"/> gets exactly one of <see cref="SocketEvents.Connected"/>
    /// with the socket, given <paramref name="settings"/>' socket options, as <paramref name="wrap"/> makes it, or <see cref="SocketEvents.ConnectFailed"/>
    /// (also when the peer reset the socket before it could be wrapped; the socket is then disposed). A dial
    /// given up through <paramref name="cancel"/> closes its socket and tells nothing: its owner has moved on.
    /// </summary>
    public static async Task ConnectAsync(IActorRef owner, IPEndPoint endpoint, TransportSettings settings, CancellationToken cancel, Func<Socket, ISocketConnection> wrap)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, cancel);
        }
        catch (OperationCanceledException)
        {
            socket.Dispose();
            return;
        }
        catch (Exception e)
        {
            socket.Dispose();
            owner.Tell(new SocketEvents.ConnectFailed(e));
            return;
        }
        ISocketConnection connection;
        try
        {
            SocketsConnection.SetOptions(socket, settings);
            connection = wrap(socket);
        }
        catch (Exception e)
        {
            // Reset by the peer before its options could be set or its addresses read, as the listener sees it too.
            socket.Dispose();
            owner.Tell(new SocketEvents.ConnectFailed(new IOException($"reset by the peer as it connected ({e.Message})", e)));
            return;
        }
        owner.Tell(new SocketEvents.Connected(connection));
    }
}
