using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.AkkaIo;

/// <summary>The Akka.IO socket options that carry <c>packet.tcp</c>'s socket settings to every connection.</summary>
internal static class SocketOptions
{
    /// <summary>Options for both listening and outbound sockets, in the order Akka.IO applies them.</summary>
    /// <remarks>
    /// No ReuseAddress: on Linux .NET already sets SO_REUSEADDR on listening sockets, so a stopped
    /// server's port binds again at once; the option would add SO_REUSEPORT and let two servers share a port.
    /// </remarks>
    public static IReadOnlyList<Inet.SocketOption> From(TransportSettings settings) =>
    [
        new BooleanOption(SocketOptionName.NoDelay, SocketOptionLevel.Tcp, settings.NoDelay),
        new BooleanOption(SocketOptionName.KeepAlive, SocketOptionLevel.Socket, settings.KeepAlive),
    ];

    /// <summary>
    /// The first option of every dial: reads the dialled socket's peer address before Akka.IO does. Akka.IO
    /// reads it as it reports the connect, and a socket the peer reset at once has none: the read throws,
    /// and Akka.IO's dialling actor dies of it without telling its commander, which would then wait for
    /// its connect timeout. Read here first, the address is kept for Akka.IO's read on success; on a reset,
    /// <paramref name="owner"/> gets <see cref="SocketEvents.ConnectFailed"/> at once, before the actor dies.
    /// </summary>
    internal sealed class ResetReport(IActorRef owner) : Inet.SocketOption
    {
        public override void AfterConnect(Socket socket)
        {
            try
            {
                _ = socket.RemoteEndPoint;
            }
            catch (SocketException e)
            {
                owner.Tell(new SocketEvents.ConnectFailed(new InvalidOperationException($"reset by the peer as it connected ({e.Message})", e)));
                throw;
            }
        }
    }

    /// <summary>
    /// Sets one boolean option once the socket is connected (accepted or dialled). A socket the peer reset
    /// at once refuses options; that is not thrown, because Akka.IO's dialling actor would die of it without
    /// telling its commander, which then waits for its connect timeout. Akka.IO reports the reset itself,
    /// at the first read, as it does for its own TCP_NODELAY.
    /// </summary>
    private sealed class BooleanOption(SocketOptionName name, SocketOptionLevel level, bool value) : Inet.SocketOption
    {
        public override void AfterConnect(Socket socket)
        {
            try
            {
                socket.SetSocketOption(level, name, value);
            }
            catch (SocketException)
            {
                // reset by the peer before its options could be set
            }
        }
    }
}
