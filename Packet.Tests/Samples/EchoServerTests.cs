using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Packet.Io.Configuration;
using Packet.Tests.Configuration;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// The EchoServer sample in its own process, started under a low open-file limit (<c>prlimit</c>), as a
/// server in a container with a small <c>ulimit -n</c> runs. The process is killed when the test ends.
/// </summary>
public sealed class EchoServerTests
{
    private const int OpenFileLimit = 512;

    [Fact]
    public async Task Under_a_low_open_file_limit_a_connect_flood_is_refused_beyond_what_the_server_can_hold_and_it_keeps_serving()
    {
        // Without a cap the server would accept until the process has no file left, and then the .NET
        // runtime, unable to start a thread, aborts it ("Out of memory.").
        const int flood = 600;
        await using var server = await EchoServerProcess.StartAsync(OpenFileLimit);
        var endpoint = server.EndPoint;
        var clients = new List<Socket>();
        int echoed = 0, refused = 0;
        try
        {
            for (var i = 0; i < flood && !server.HasExited; i++)
            {
                Socket client;
                try
                {
                    client = await Loopback.ConnectAllowingResetAsync(endpoint);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    break; // nothing listens: the assertions below say why
                }
                clients.Add(client);
                if (await EchoesAsync(client)) echoed++;
                else refused++;
            }

            Assert.False(server.HasExited, $"the server died:\n{server.Output}");
            Assert.Equal(OpenFiles.ConnectionCap(OpenFileLimit), echoed);
            Assert.Equal(flood - echoed, refused);
            Assert.Contains($"may open only {OpenFileLimit} files", server.Output);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }

        await Bounded.Until(async () =>
        {
            using var fresh = await Loopback.ConnectAllowingResetAsync(endpoint);
            return await EchoesAsync(fresh);
        }, "a new client to be served once the flood has gone");
    }

    /// <remarks>
    /// A process out of descriptors can lose its runtime too: .NET aborts it ("Out of memory.") when it needs a
    /// new thread then. That is no fault of the transport, so an attempt that dies so is made again, up to
    /// three times; any other failure fails the test. Akka.IO is not among the cases: its own listener retries
    /// every 10 ms and logs a warning each time, and under that flood the runtime died in most attempts.
    /// </remarks>
    [Theory]
    [InlineData("sockets")]
    public async Task Out_of_file_descriptors_the_server_pauses_accepting_and_serves_the_waiting_client_once_one_is_free(string transport)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var server = await EchoServerProcess.StartAsync(OpenFileLimit, "--transport", transport);
            try
            {
                using var first = await Loopback.ConnectAsync(server.EndPoint);
                Assert.True(await EchoesAsync(first), "the first client was not served");

                // A limit of 3 leaves the process only its standard streams: every new descriptor fails with
                // EMFILE, whatever it closes meanwhile. The kernel still completes the handshake into the backlog.
                server.LimitOpenFiles(3);
                using var waiting = await Loopback.ConnectAsync(server.EndPoint);
                await waiting.SendAsync("w");
                await Bounded.Until(() => server.Output.Contains("cannot accept a connection") || server.HasExited,
                    $"the server to report that it cannot accept; it wrote:\n{server.Output}");
                Assert.False(server.HasExited, $"the server died:\n{server.Output}");

                server.LimitOpenFiles(OpenFileLimit);
                Assert.Equal((byte)'w', (await waiting.ReadExactlyAsync(1))[0]);
                Assert.True(await EchoesAsync(first), "the first client was not served after the pause");
                return;
            }
            catch (Exception) when (attempt < 3 && server.DiedOutOfMemory())
            {
                // the runtime's abort, not the transport's failure: try again
            }
        }
    }

    /// <summary>True when the server echoes a byte; false when it closed or reset the connection instead.</summary>
    private static async Task<bool> EchoesAsync(Socket client)
    {
        try
        {
            await client.SendAsync("x");
            return (await client.ReadExactlyAsync(1))[0] == (byte)'x';
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            return false;
        }
    }
}

/// <summary>The EchoServer sample (or another sample server) running in its own process under an open-file limit, killed when disposed.</summary>
internal sealed class EchoServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _hardLimit;

    private readonly string _sample;

    private EchoServerProcess(string sample, int openFileLimit, IReadOnlyDictionary<string, string> environment, string[] arguments)
    {
        _sample = sample;
        _hardLimit = openFileLimit;
        _process = new Process
        {
            StartInfo = new ProcessStartInfo("prlimit", [$"--nofile={openFileLimit}:{openFileLimit}", "dotnet", "exec", ConfigurationTests.SampleDll(sample), "--port", "0", .. arguments])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            },
        };
        foreach (var (name, value) in environment) _process.StartInfo.Environment[name] = value;
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
    }

    /// <summary>Everything the server has written, standard output and error interleaved.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The server's process id: prlimit execs dotnet, so the process started is the server itself.</summary>
    public int Id => _process.Id;

    public IPEndPoint EndPoint => new(IPAddress.Loopback, _port.Task.Result);

    /// <summary>Starts the sample with <c>--port 0</c> and <paramref name="arguments"/>, and waits until it listens.</summary>
    public static Task<EchoServerProcess> StartAsync(int openFileLimit, params string[] arguments) =>
        StartAsync(openFileLimit, new Dictionary<string, string>(), arguments);

    /// <summary>As <see cref="StartAsync(int, string[])"/>, with these variables added to the server's environment.</summary>
    public static Task<EchoServerProcess> StartAsync(int openFileLimit, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartAsync("EchoServer", openFileLimit, environment, arguments);

    /// <summary>Starts another sample server the same way: <c>--port 0</c> and <paramref name="arguments"/>, waiting until it listens.</summary>
    public static Task<EchoServerProcess> StartSampleAsync(string sample, params string[] arguments) =>
        StartAsync(sample, 4096, new Dictionary<string, string>(), arguments);

    private static async Task<EchoServerProcess> StartAsync(string sample, int openFileLimit, IReadOnlyDictionary<string, string> environment, string[] arguments)
    {
        var server = new EchoServerProcess(sample, openFileLimit, environment, arguments);
        try
        {
            server._process.Start();
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            await Task.WhenAny(server._port.Task, server._process.WaitForExitAsync()).Within($"{sample} to listen", TimeSpan.FromSeconds(60));
            Assert.True(server._port.Task.IsCompleted, $"{sample} ended without listening:\n{server.Output}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>True when the process ended (within 10 s) with the runtime's own abort for want of a thread.</summary>
    public bool DiedOutOfMemory()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) return false;
        _process.WaitForExit(); // it has exited: this waits only for the end of its output
        return Output.Contains("Out of memory.");
    }

    /// <summary>Sets the running server's soft limit on open files (at most the limit it started with), as <c>ulimit -n</c> would have.</summary>
    public void LimitOpenFiles(int soft)
    {
        using var prlimit = Process.Start(new ProcessStartInfo("prlimit", ["--pid", $"{_process.Id}", $"--nofile={soft}:{_hardLimit}"]) { RedirectStandardError = true })!;
        var error = prlimit.StandardError.ReadToEnd();
        Assert.True(prlimit.WaitForExit(TimeSpan.FromSeconds(30)) && prlimit.ExitCode == 0, $"prlimit failed: {error}");
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("listening on ", StringComparison.Ordinal)) _port.TrySetResult(int.Parse(line[(line.LastIndexOf(':') + 1)..]));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it never started
        }
        await _process.WaitForExitAsync().Within($"{_sample} to exit");
        _process.Dispose();
    }
}
