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
public sealed class EchoServerTests : IAsyncLifetime
{
    private const int OpenFileLimit = 512;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process _server = null!;

    private string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public async Task InitializeAsync()
    {
        var dll = ConfigurationTests.SampleDll("EchoServer");
        _server = new Process
        {
            StartInfo = new ProcessStartInfo("prlimit", [$"--nofile={OpenFileLimit}:{OpenFileLimit}", "dotnet", "exec", dll, "--port", "0"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            },
        };
        _server.OutputDataReceived += (_, e) => Record(e.Data);
        _server.ErrorDataReceived += (_, e) => Record(e.Data);
        _server.Start();
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        await Task.WhenAny(_port.Task, _server.WaitForExitAsync()).Within("EchoServer to listen", TimeSpan.FromSeconds(60));
        Assert.True(_port.Task.IsCompleted, $"EchoServer ended without listening:\n{Output}");
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("listening on ", StringComparison.Ordinal)) _port.TrySetResult(int.Parse(line[(line.LastIndexOf(':') + 1)..]));
    }

    public async Task DisposeAsync()
    {
        if (!_server.HasExited) _server.Kill(entireProcessTree: true);
        await _server.WaitForExitAsync().Within("EchoServer to exit");
        _server.Dispose();
    }

    [Fact]
    public async Task Under_a_low_open_file_limit_a_connect_flood_is_refused_beyond_what_the_server_can_hold_and_it_keeps_serving()
    {
        // Without a cap the server would accept until the process has no file left, and then the .NET
        // runtime, unable to start a thread, aborts it ("Out of memory.").
        const int flood = 600;
        var endpoint = new IPEndPoint(IPAddress.Loopback, await _port.Task);
        var clients = new List<Socket>();
        int echoed = 0, refused = 0;
        try
        {
            for (var i = 0; i < flood && !_server.HasExited; i++)
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

            Assert.False(_server.HasExited, $"the server died:\n{Output}");
            Assert.Equal(OpenFiles.ConnectionCap(OpenFileLimit), echoed);
            Assert.Equal(flood - echoed, refused);
            Assert.Contains($"may open only {OpenFileLimit} files", Output);
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
