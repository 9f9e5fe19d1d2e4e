using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Packet.Bench.Load;

/// <summary>What one cell measured. Latencies are per message round trip, in microseconds.</summary>
public sealed record CellResult(double Value, long Messages, double? P50, double? P99, double? P999);

/// <summary>
/// The load generator: runs one cell against a server on 127.0.0.1 and checks every byte it gets back.
/// It runs in its own process, so the server under test is measured as a whole process.
/// </summary>
public static class LoadGenerator
{
    /// <summary>
    /// <paramref name="connections"/> connections, each keeping <paramref name="window"/> messages of
    /// <paramref name="size"/> bytes in flight for <paramref name="duration"/>. Returns messages per second.
    /// With <paramref name="lines"/>, messages are printable lines ending in '\n' (for the worker echo).
    /// </summary>
    public static async Task<CellResult> EchoAsync(int port, int connections, int size, int window, TimeSpan duration, bool lines)
    {
        var sockets = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => ConnectAsync(port)));
        var latencies = new List<double>[connections];
        var clock = Stopwatch.StartNew();
        var deadline = duration;
        var counts = await Task.WhenAll(sockets.Select((socket, c) => Task.Run(() => DriveAsync(socket, c, size, window, clock, deadline, lines, latencies[c] = []))));
        var elapsed = clock.Elapsed.TotalSeconds;
        foreach (var socket in sockets) socket.Dispose();
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        return new CellResult(counts.Sum() / elapsed, counts.Sum(), Percentile(all, 0.50), Percentile(all, 0.99), Percentile(all, 0.999));
    }

    private static async Task<long> DriveAsync(Socket socket, int connection, int size, int window, Stopwatch clock, TimeSpan deadline, bool lines, List<double> latencies)
    {
        var sentAt = new long[window];
        var outgoing = new byte[size];
        var expected = new byte[size];
        var incoming = new byte[Math.Max(size * window, 64 * 1024)];
        long sent = 0, received = 0;
        for (; sent < window; sent++) await SendAsync(sent);
        var buffered = 0;
        using var stall = new CancellationTokenSource();
        try
        {
            while (received < sent)
            {
                var n = await ReceiveAsync(socket, incoming.AsMemory(buffered), stall);
                if (n == 0) throw new InvalidDataException($"connection {connection}: the server closed after {received} messages");
                buffered += n;
                var offset = 0;
                while (buffered - offset >= size)
                {
                    Fill(expected, connection, received, lines);
                    if (!incoming.AsSpan(offset, size).SequenceEqual(expected))
                        throw new InvalidDataException($"connection {connection}: message {received} came back different");
                    latencies.Add((Stopwatch.GetTimestamp() - sentAt[received % window]) * 1_000_000.0 / Stopwatch.Frequency);
                    received++;
                    offset += size;
                    if (clock.Elapsed < deadline) await SendAsync(sent++);
                }
                Buffer.BlockCopy(incoming, offset, incoming, 0, buffered - offset);
                buffered -= offset;
            }
        }
        catch (OperationCanceledException) when (stall.IsCancellationRequested)
        {
            throw new TimeoutException($"connection {connection}: no echo for {Stall.TotalSeconds:0} s after {received} of {sent} messages and {buffered} bytes of the next");
        }
        return received;

        async Task SendAsync(long message)
        {
            Fill(outgoing, connection, message, lines);
            sentAt[message % window] = Stopwatch.GetTimestamp();
            await socket.SendAsync(outgoing, SocketFlags.None);
        }
    }

    /// <summary>How long a receive waits for the server before the cell fails: a server that stops echoing is a finding, not a hang.</summary>
    private static readonly TimeSpan Stall = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A receive that is cancelled when nothing arrives within <see cref="Stall"/>. <paramref name="stall"/>
    /// is the caller's, re-armed by each call, so a receive allocates nothing; the caller turns its
    /// cancellation into an error that says how far it got.
    /// </summary>
    private static ValueTask<int> ReceiveAsync(Socket socket, Memory<byte> buffer, CancellationTokenSource stall)
    {
        stall.CancelAfter(Stall);
        return socket.ReceiveAsync(buffer, SocketFlags.None, stall.Token);
    }

    /// <summary>Message <paramref name="message"/> of <paramref name="connection"/>: bytes that differ per message, so a misrouted or reordered echo is caught.</summary>
    private static void Fill(byte[] buffer, int connection, long message, bool lines)
    {
        for (var i = 0; i < buffer.Length; i++)
            buffer[i] = lines ? (byte)('a' + (message + i + connection) % 26) : (byte)(message * 7 + i * 13 + connection);
        if (lines) buffer[^1] = (byte)'\n';
    }

    /// <summary><paramref name="parallel"/> clients, each connecting, echoing 64 bytes and closing, for <paramref name="duration"/>. Returns connections per second.</summary>
    public static async Task<CellResult> ConnectAsync(int port, int parallel, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        var counts = await Task.WhenAll(Enumerable.Range(0, parallel).Select(c => Task.Run(async () =>
        {
            var message = new byte[64];
            var back = new byte[64];
            long done = 0;
            using var stall = new CancellationTokenSource();
            try
            {
                while (clock.Elapsed < duration)
                {
                    Fill(message, c, done, lines: false);
                    using var socket = await ConnectAsync(port);
                    await socket.SendAsync(message, SocketFlags.None);
                    for (var got = 0; got < 64;)
                    {
                        var n = await ReceiveAsync(socket, back.AsMemory(got), stall);
                        if (n == 0) throw new InvalidDataException("the server closed before echoing");
                        got += n;
                    }
                    if (!back.AsSpan().SequenceEqual(message)) throw new InvalidDataException("an echo came back different");
                    done++;
                }
            }
            catch (OperationCanceledException) when (stall.IsCancellationRequested)
            {
                throw new TimeoutException($"client {c}: no echo for {Stall.TotalSeconds:0} s after {done} connections");
            }
            return done;
        })));
        return new CellResult(counts.Sum() / clock.Elapsed.TotalSeconds, counts.Sum(), null, null, null);
    }

    /// <summary>Holds <paramref name="connections"/> idle connections (each echoed one byte first) and returns the server's RSS growth per connection, in KiB.</summary>
    public static async Task<CellResult> IdleMemoryAsync(int port, int serverPid, int connections)
    {
        // Warm the server up (JIT, pools) with a first batch that is closed again, then take the baseline.
        foreach (var socket in await OpenIdleAsync(port, 100)) socket.Dispose();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = ProcessStats.RssKiB(serverPid);
        var sockets = new List<Socket>(connections);
        try
        {
            for (var i = 0; i < connections; i += 100) sockets.AddRange(await OpenIdleAsync(port, Math.Min(100, connections - i)));
            await Task.Delay(TimeSpan.FromSeconds(2)); // let the server settle before the reading
            var after = ProcessStats.RssKiB(serverPid);
            return new CellResult((after - before) / (double)connections, connections, null, null, null);
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    /// <summary>Opens <paramref name="count"/> connections, each echoing one byte, and leaves them open.</summary>
    private static Task<Socket[]> OpenIdleAsync(int port, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            var socket = await ConnectAsync(port);
            await socket.SendAsync(new byte[] { 42 }, SocketFlags.None);
            var one = new byte[1];
            using var stall = new CancellationTokenSource();
            try
            {
                if (await ReceiveAsync(socket, one, stall) != 1 || one[0] != 42) throw new InvalidDataException("an idle connection's echo failed");
            }
            catch (OperationCanceledException) when (stall.IsCancellationRequested)
            {
                throw new TimeoutException($"an idle connection got no echo for {Stall.TotalSeconds:0} s");
            }
            return socket;
        }));

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> with Nagle off, within 30 s.</summary>
    internal static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return socket;
    }

    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}

/// <summary>CPU time and memory of a process, read from /proc.</summary>
public static class ProcessStats
{
    public static long RssKiB(int pid) => StatusField(pid, "VmRSS:");

    public static long PeakRssKiB(int pid) => StatusField(pid, "VmHWM:");

    /// <summary>User plus system CPU seconds the process has used.</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime in clock ticks (USER_HZ = 100)
    }

    private static long StatusField(int pid, string name) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim().Split(' ')[0]);
}
