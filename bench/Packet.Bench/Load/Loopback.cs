using System.Net;
using System.Net.Sockets;

namespace Packet.Bench.Load;

/// <summary>Client sockets for the soak run's loads.</summary>
public static class Loopback
{
    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> with Nagle off, within 30 s.</summary>
    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return socket;
    }
}
