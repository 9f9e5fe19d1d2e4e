using System.Net;
using System.Net.Sockets;

namespace Packet.Bench.Servers;

/// <summary>The baseline: a plain System.Net.Sockets async echo, one task per connection.</summary>
public static class RawEchoServer
{
    public static async Task RunAsync(int port)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.WriteLine($"listening on {listener.LocalEndPoint}");
        while (true)
        {
            var socket = await listener.AcceptAsync();
            socket.NoDelay = true;
            _ = EchoAsync(socket);
        }
    }

    private static async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0) break;
                await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            }
        }
        catch (SocketException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }
}
