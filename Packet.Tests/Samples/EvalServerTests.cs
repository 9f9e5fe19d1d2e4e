using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Packet.Tests.Configuration;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// The EvalServer sample run as a user runs it: its own master process with WorkerHost children,
/// clients on real sockets. Every process it starts is killed when the test ends, pass or fail.
/// </summary>
public sealed class EvalServerTests : IAsyncLifetime
{
    private Process _master = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        var server = ConfigurationTests.SampleDll("EvalServer");
        _master = Process.Start(new ProcessStartInfo("dotnet", ["exec", server, "--port", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        })!;
        var errors = new StringBuilder();
        _master.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        _master.BeginErrorReadLine();
        var listening = await Task.Run(() =>
        {
            while (_master.StandardOutput.ReadLine() is { } line)
                if (line.StartsWith("listening on ", StringComparison.Ordinal)) return line;
            return null;
        }).Within("EvalServer to listen", TimeSpan.FromSeconds(60));
        Assert.True(listening is not null, $"EvalServer ended without listening: {errors}");
        _port = int.Parse(listening[(listening.LastIndexOf(':') + 1)..]);
        _ = Task.Run(() => _master.StandardOutput.ReadToEnd()); // keep draining
        await Bounded.Until(() => ChildProcesses(_master.Id).Length == 2, "eval_worker's two WorkerHost processes", TimeSpan.FromSeconds(30));
        // Ready means answering: on a loaded machine warming Roslyn up can outlast the sample's 5 s
        // ask-timeout, and an ask sent meanwhile is answered with an error line, as the README says.
        await Bounded.Until(async () => await EvalAsync("0") == "0\n", "eval_worker to answer", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        var children = ChildProcesses(_master.Id);
        if (!_master.HasExited) _master.Kill(entireProcessTree: true);
        foreach (var child in children) await Hosts.GoneAsync(child);
        _master.Dispose();
    }

    /// <summary>What <c>printf 'LINE\n' | nc -q1 127.0.0.1 PORT</c> prints: send, shut down sending, read to the end.</summary>
    private async Task<string> EvalAsync(string line)
    {
        using var socket = await Loopback.ConnectAsync(_port);
        await socket.SendAsync(line + "\n");
        socket.Shutdown(SocketShutdown.Send);
        var (data, _) = await socket.ReadToEndAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(data);
    }

    [Fact]
    public async Task The_eval_server_answers_each_client_from_its_worker_processes_and_leaves_no_orphans_when_killed()
    {
        Assert.Equal("2\n", await EvalAsync("1+1"));
        Assert.Equal("[10, 20]\n", await EvalAsync("new[]{1,2}.Select(x => x*10)"));
        Assert.StartsWith("error:", await EvalAsync("foo("));

        var hosts = ChildProcesses(_master.Id);
        _master.Kill(); // SIGKILL: the master gets no chance to clean up

        foreach (var host in hosts) await Hosts.GoneAsync(host);
    }

    /// <summary>The direct children of <paramref name="parent"/>, read from /proc.</summary>
    private static int[] ChildProcesses(int parent) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ParentOf(pid) == parent)
            .ToArray();

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
