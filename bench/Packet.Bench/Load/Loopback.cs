using System.Net;
using System.Net.Sockets;

namespace Packet.Bench.Load;

/// <summary>Client sockets for the soak run's loads, and free ports for servers that cannot pick their own.</summary>
public static class Loopback
{
    /// <summary>A port free on 127.0.0.1 a moment ago, for a server (redis-server) whose port 0 means no TCP at all.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> with Nagle off, within 30 s.</summary>
    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return socket;
    }
}
