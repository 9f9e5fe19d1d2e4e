using System.Net;
using System.Net.Sockets;

namespace Packet.Tests.Support;

/// <summary>Plain-socket peers on 127.0.0.1: the "real client" side of reactor tests.</summary>
public static class Loopback
{
    public const string Host = "127.0.0.1";

    /// <summary>A port free on 127.0.0.1 now: bound, then released, for a process that must be told its port before it starts.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(Bounded.Default);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        return socket;
    }

    public static async Task<Socket> ConnectAsync(IPEndPoint endpoint) => await ConnectAsync(endpoint.Port);

    /// <summary>Connects to a server that may reset the socket at once; the reset can beat the connect's own completion.</summary>
    public static async Task<Socket> ConnectAllowingResetAsync(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var cts = new CancellationTokenSource(Bounded.Default);
            await socket.ConnectAsync(endpoint, cts.Token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        return socket;
    }

    /// <summary>How many sockets on this machine are in SYN-SENT towards <paramref name="port"/>: dials the kernel is still retrying (read from /proc/net).</summary>
    public static int DialsPendingTo(int port) =>
        new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields.Length > 3 && fields[1] != "local_address" && fields[3] == "02"
                             && Convert.ToInt32(fields[2][(fields[2].LastIndexOf(':') + 1)..], 16) == port);

    /// <summary>A port that was free a moment ago and has no listener now: connects to it are refused.</summary>
    public static int ClosedPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public static async Task SendAsync(this Socket socket, string text) =>
        await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(text), SocketFlags.None);

    /// <summary>
    /// Reads exactly <paramref name="count"/> bytes, or fails if the peer closes first or time runs out
    /// (a <see cref="TimeoutException"/> that says how many bytes did arrive).
    /// </summary>
    public static async Task<byte[]> ReadExactlyAsync(this Socket socket, int count, TimeSpan? limit = null)
    {
        var buffer = new byte[count];
        var within = limit ?? Bounded.Default;
        using var cts = new CancellationTokenSource(within);
        var read = 0;
        try
        {
            while (read < count)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
                if (n == 0) throw new EndOfStreamException($"peer closed after {read} of {count} bytes");
                read += n;
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"{read} of {count} bytes arrived within {within}");
        }
        return buffer;
    }

    /// <summary>Reads until the peer closes (FIN or reset); returns what arrived and whether it ended in a reset.</summary>
    public static async Task<(byte[] Data, bool Reset)> ReadToEndAsync(this Socket socket, TimeSpan? limit = null)
    {
        using var cts = new CancellationTokenSource(limit ?? Bounded.Default);
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) return (all.ToArray(), false);
                all.Write(buffer, 0, n);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return (all.ToArray(), true);
        }
    }

    /// <summary>What <c>printf 'LINE\n' | nc -q1 127.0.0.1 PORT</c> prints: send, shut down sending, read to the end.</summary>
    public static async Task<string> LineExchangeAsync(int port, string line)
    {
        using var socket = await ConnectAsync(port);
        await socket.SendAsync(line + "\n");
        socket.Shutdown(SocketShutdown.Send);
        var (data, _) = await socket.ReadToEndAsync(TimeSpan.FromSeconds(30));
        return System.Text.Encoding.UTF8.GetString(data);
    }
}
