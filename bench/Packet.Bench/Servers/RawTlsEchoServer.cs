using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Packet.Bench.Servers;

/// <summary>The TLS baseline: .NET's SslStream over a NetworkStream, echoing, one task per connection, as the raw echo is without TLS.</summary>
public static class RawTlsEchoServer
{
    public const string Name = "raw-tls-echo-server";

    public static async Task RunAsync(int port)
    {
        var options = BenchCertificate.ServerOptions();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.WriteLine($"listening on {listener.LocalEndPoint}");
        while (true)
        {
            var socket = await listener.AcceptAsync();
            socket.NoDelay = true;
            _ = EchoAsync(socket, options);
        }
    }

    private static async Task EchoAsync(Socket socket, SslServerAuthenticationOptions options)
    {
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        var buffer = new byte[16 * 1024];
        try
        {
            await tls.AuthenticateAsServerAsync(options);
            while (true)
            {
                var n = await tls.ReadAsync(buffer);
                if (n == 0) break;
                await tls.WriteAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception e) when (e is IOException or AuthenticationException or SocketException)
        {
        }
    }
}
