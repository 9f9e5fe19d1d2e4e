using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// The RedisServer sample in its own process, driven by a socket speaking RESP as the tests write it, and by Redis' own
/// clients (Debian's redis-tools): a <c>redis-cli</c> session whose answers are checked, and <c>redis-benchmark</c>.
/// </summary>
public sealed class RedisServerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("packet-redis-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>RESP for one request: an array of bulk strings.</summary>
    private static byte[] Request(params byte[][] arguments)
    {
        var request = new List<byte>(Encoding.ASCII.GetBytes($"*{arguments.Length}\r\n"));
        foreach (var argument in arguments)
        {
            request.AddRange(Encoding.ASCII.GetBytes($"${argument.Length}\r\n"));
            request.AddRange(argument);
            request.AddRange("\r\n"u8.ToArray());
        }
        return [.. request];
    }

    private static byte[] Request(params string[] arguments) => Request(arguments.Select(Encoding.UTF8.GetBytes).ToArray());

    [Theory]
    [InlineData("akka-io")]
    [InlineData("sockets")]
    public async Task A_pipelined_session_gets_every_reply_in_order_with_binary_values_intact(string transport)
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer", "--transport", transport);
        using var client = await Loopback.ConnectAsync(server.EndPoint);
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).Concat("\r\n$3\r\n*1\r\n"u8.ToArray()).ToArray();

        // One write: the worker's answer comes in its place, between GETs answered at once.
        byte[] session =
        [
            .. "PING\r\n"u8, .. Request("SET", "counter", "41"), .. Request("INCR", "counter"), .. Request("SET"u8.ToArray(), "bin"u8.ToArray(), binary),
            .. Request("GET", "bin"), .. Request("PBKDF2", "password", "salt"), .. Request("GET", "counter"), .. Request("DEL", "bin", "missing"),
            .. Request("GET", "bin"), .. Request("INCR", "bin-text-is-not-a-number"), .. Request("SET", "word", "abc"), .. Request("INCR", "word"),
            .. Request("GET"), .. Request("NOSUCH", "x"), .. Request("ECHO", "done"),
        ];
        await client.SendAsync(session, SocketFlags.None);

        var pbkdf2 = Convert.ToHexStringLower(Rfc2898DeriveBytes.Pbkdf2("password"u8, "salt"u8, 100_000, HashAlgorithmName.SHA256, 32));
        byte[] expected =
        [
            .. "+PONG\r\n+OK\r\n:42\r\n+OK\r\n"u8, .. Encoding.ASCII.GetBytes($"${binary.Length}\r\n"), .. binary, .. "\r\n"u8,
            .. Encoding.ASCII.GetBytes($"$64\r\n{pbkdf2}\r\n$2\r\n42\r\n:1\r\n$-1\r\n:1\r\n+OK\r\n"),
            .. "-ERR value is not an integer or out of range\r\n"u8, .. "-ERR wrong number of arguments for 'get' command\r\n"u8,
            .. "-ERR unknown command 'NOSUCH'\r\n$4\r\ndone\r\n"u8,
        ];
        Assert.Equal(Encoding.Latin1.GetString(expected), Encoding.Latin1.GetString(await client.ReadExactlyAsync(expected.Length, TimeSpan.FromSeconds(60))));
    }

    [Fact]
    public async Task A_broken_request_gets_a_protocol_error_and_the_connection_closes()
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer");
        using var client = await Loopback.ConnectAsync(server.EndPoint);

        await client.SendAsync("*2\r\n$3\r\nGET\r\n:5\r\n");
        var (reply, _) = await client.ReadToEndAsync();

        Assert.Equal("-ERR Protocol error: expected '$', got ':'\r\n", Encoding.ASCII.GetString(reply));
    }

    [Fact]
    public async Task A_value_over_the_block_limit_is_refused_before_any_of_it_is_read()
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer");
        using var client = await Loopback.ConnectAsync(server.EndPoint);

        await client.SendAsync("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777215\r\n"); // the default max-binary-length is 16 MiB, CRLF included
        var (reply, _) = await client.ReadToEndAsync();

        Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", Encoding.ASCII.GetString(reply));
    }

    [Fact]
    public async Task A_SET_past_max_memory_is_refused_with_OOM_and_nothing_changes()
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer", "--max-memory", "100000");
        using var client = await Loopback.ConnectAsync(server.EndPoint);

        byte[] requests = [.. Request("SET", "a", new string('x', 60_000)), .. Request("SET", "b", new string('y', 60_000)), .. Request("GET", "b"), .. Request("DEL", "a"),
            .. Request("SET", "b", new string('y', 60_000))];
        await client.SendAsync(requests, SocketFlags.None);

        var expected = "+OK\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n$-1\r\n:1\r\n+OK\r\n";
        Assert.Equal(expected, Encoding.ASCII.GetString(await client.ReadExactlyAsync(expected.Length)));
    }

    /// <summary>Runs <c>redis-cli -p PORT</c> with <paramref name="arguments"/>, <paramref name="input"/> on its standard input; returns its standard output.</summary>
    private static async Task<byte[]> RedisCliAsync(int port, byte[]? input, params string[] arguments)
    {
        var cli = await ClientProcess.RunAsync("redis-cli", ["-p", $"{port}", .. arguments], Bounded.Default, input);
        Assert.True(cli.ExitCode == 0, $"redis-cli {string.Join(' ', arguments)} failed: {cli.Errors}");
        return cli.Output;
    }

    [Theory]
    [InlineData("akka-io")]
    [InlineData("sockets")]
    public async Task A_redis_cli_session_gets_Redis_answers_with_binary_and_1_MiB_values_intact(string transport)
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer", "--transport", transport);
        var port = server.EndPoint.Port;
        var binary = RandomNumberGenerator.GetBytes(1024 * 1024); // every byte value, CR and LF among them

        var session = Encoding.UTF8.GetString(await RedisCliAsync(port, "PING\nSET greeting \"hello world\"\nGET greeting\nINCR visits\nINCR visits\nDEL greeting\nGET greeting\nECHO bye\n"u8.ToArray()));
        var set = Encoding.UTF8.GetString(await RedisCliAsync(port, binary, "-x", "SET", "blob"));
        var back = await RedisCliAsync(port, null, "--raw", "GET", "blob"); // --raw: the bytes as they are, then a newline
        var hash = Encoding.UTF8.GetString(await RedisCliAsync(port, null, "PBKDF2", "secret", "pepper"));

        Assert.Equal("PONG\nOK\nhello world\n1\n2\n1\n\nbye\n", session);
        Assert.Equal("OK\n", set);
        Assert.Equal([.. binary, (byte)'\n'], back);
        Assert.Equal(Convert.ToHexStringLower(Rfc2898DeriveBytes.Pbkdf2("secret"u8, "pepper"u8, 100_000, HashAlgorithmName.SHA256, 32)) + "\n", hash);
    }

    [Fact]
    public async Task Redis_benchmark_runs_SET_and_GET_pipelined_16_deep_on_50_connections_without_an_error()
    {
        await using var server = await SampleServerProcess.StartSampleAsync("RedisServer");
        var benchmark = await ClientProcess.RunAsync("redis-benchmark",
            ["-p", $"{server.EndPoint.Port}", "-t", "set,get", "-n", "100000", "-c", "50", "-P", "16", "-q"], TimeSpan.FromSeconds(120));

        Assert.True(benchmark.ExitCode == 0, $"redis-benchmark failed: {benchmark.Text}{benchmark.Errors}");
        var lines = benchmark.Text.Split('\r', '\n').Where(l => l.Contains("requests per second")).Select(l => l.Trim()).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("SET: ", lines[0]);
        Assert.StartsWith("GET: ", lines[1]);
        Assert.DoesNotContain("ERR", benchmark.Text + benchmark.Errors);
    }
}
