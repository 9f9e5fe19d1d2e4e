using System.Net.Sockets;
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

    /// <summary>Sets one boolean option once the socket is connected (accepted or dialled).</summary>
    private sealed class BooleanOption(SocketOptionName name, SocketOptionLevel level, bool value) : Inet.SocketOption
    {
        public override void AfterConnect(Socket socket) => socket.SetSocketOption(level, name, value);
    }
}
