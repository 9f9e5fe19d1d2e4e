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
    private readonly List<string> _output = [];
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
        _ = Task.Run(() => // keep draining, and keep what it said
        {
            while (_master.StandardOutput.ReadLine() is { } line) lock (_output) _output.Add(line);
        });
        await Bounded.Until(() => Processes.Children(_master.Id).Length == 2, "eval_worker's two WorkerHost processes", TimeSpan.FromSeconds(30));
        // Ready means answering: on a loaded machine warming Roslyn up can outlast the sample's 5 s
        // ask-timeout, and an ask sent meanwhile is answered with an error line, as the README says.
        await Bounded.Until(async () => await EvalAsync("0") == "0\n", "eval_worker to answer", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        var children = Processes.Children(_master.Id);
        if (!_master.HasExited) _master.Kill(entireProcessTree: true);
        foreach (var child in children) await Hosts.GoneAsync(child);
        _master.Dispose();
    }

    /// <summary>What <c>printf 'LINE\n' | nc -q1 127.0.0.1 PORT</c> prints.</summary>
    private Task<string> EvalAsync(string line) => Loopback.LineExchangeAsync(_port, line);

    [Fact]
    public async Task The_eval_server_answers_each_client_from_its_worker_processes_and_leaves_no_orphans_when_killed()
    {
        Assert.Equal("2\n", await EvalAsync("1+1"));
        Assert.Equal("[10, 20]\n", await EvalAsync("new[]{1,2}.Select(x => x*10)"));
        Assert.StartsWith("error:", await EvalAsync("foo("));

        var hosts = Processes.Children(_master.Id);
        _master.Kill(); // SIGKILL: the master gets no chance to clean up

        foreach (var host in hosts) await Hosts.GoneAsync(host);
    }

    [Fact]
    public async Task A_client_flooding_asks_for_10_s_grows_the_master_little_and_the_workers_are_idle_2_s_after_it_leaves()
    {
        var hosts = Processes.Children(_master.Id);
        // A first flood warms the workers up: a fresh .NET process goes on compiling its hot code in the
        // background for seconds after its first burst of work, which is not the work being measured.
        await FloodAsync(TimeSpan.FromSeconds(3));
        await Bounded.Until(async () => (await CpuUsedAsync(hosts, TimeSpan.FromSeconds(1))).All(ms => ms < 250), "the warmed-up workers to go idle");

        await FloodAsync(TimeSpan.FromSeconds(10));

        // The flood waited in TCP's buffers, not in the master: before the asks were bounded it grew past 1 GiB.
        Assert.True(PeakResidentMiB(_master.Id) < 200, $"the master's resident memory peaked at {PeakResidentMiB(_master.Id)} MiB");
        await Task.Delay(TimeSpan.FromSeconds(2)); // the time the workers are given: then they must be idle
        var used = await CpuUsedAsync(hosts, TimeSpan.FromSeconds(1));
        Assert.All(used, ms => Assert.True(ms < 250, $"a WorkerHost used {ms} ms of CPU in the second after the client left (still evaluating its asks)"));
        Assert.Equal("2\n", await EvalAsync("1+1"));
    }

    /// <summary>One client writes <c>1\n</c> lines as fast as it can for <paramref name="duration"/>, reading the answers, then resets and leaves.</summary>
    private async Task FloodAsync(TimeSpan duration)
    {
        using var client = await Loopback.ConnectAsync(_port);
        var lines = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1\n", 32_768)));
        var answers = Task.Run(async () =>
        {
            var buffer = new byte[65_536];
            try
            {
                while (await client.ReceiveAsync(buffer, SocketFlags.None) > 0) { }
            }
            catch (SocketException)
            {
            }
        });
        using var flood = new CancellationTokenSource(duration);
        try
        {
            while (true) await client.SendAsync(lines, SocketFlags.None, flood.Token);
        }
        catch (OperationCanceledException)
        {
        }
        client.LingerState = new LingerOption(true, 0); // leave at once, with asks outstanding
    }

    /// <summary>
    /// The CPU each process's threads used during <paramref name="window"/>, in milliseconds, leaving out
    /// the runtime's background JIT thread: after a burst of work a fresh .NET process goes on recompiling
    /// its hot code (Roslyn's, here) for seconds, which is no work a worker was asked to do.
    /// </summary>
    private static async Task<long[]> CpuUsedAsync(int[] pids, TimeSpan window)
    {
        var before = pids.Select(ThreadCpu).ToArray();
        await Task.Delay(window);
        return pids.Select((pid, i) => ThreadCpu(pid).Sum(t => t.Value - before[i].GetValueOrDefault(t.Key))).ToArray();
    }

    /// <summary>User and system CPU time of each thread of <paramref name="pid"/> but the JIT's, in milliseconds (at 100 clock ticks a second).</summary>
    private static Dictionary<string, long> ThreadCpu(int pid)
    {
        var times = new Dictionary<string, long>();
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith(".NET Tiered Com", StringComparison.Ordinal)) continue;
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                times[Path.GetFileName(task)] = (long.Parse(fields[11]) + long.Parse(fields[12])) * 10;
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return times;
    }

    [Fact]
    public async Task Strangers_hammering_the_worker_link_get_nowhere_and_cannot_flood_the_log()
    {
        var link = Processes.ListeningPorts(_master.Id).Single(port => port != _port); // the master's remoting port
        for (var i = 0; i < 50; i++)
        {
            using var stranger = await Loopback.ConnectAsync(link);
            await stranger.SendAsync(new byte[] { 0, 0, 0, 16, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41 }, SocketFlags.None);
            var (reply, _) = await stranger.ReadToEndAsync(TimeSpan.FromSeconds(10)); // the master ends the handshake
            Assert.Empty(reply);
        }

        Assert.Equal("2\n", await EvalAsync("1+1"));
        // Each refused handshake made Akka.Remote log two errors of many lines: 100 here, without the throttle.
        int logged;
        lock (_output) logged = _output.Count(line => line.StartsWith("[ERROR]", StringComparison.Ordinal) && line.Contains("TcpServerHandler", StringComparison.Ordinal));
        Assert.InRange(logged, 1, 2);
    }

    /// <summary>The highest resident memory of process <paramref name="pid"/> so far (VmHWM), in MiB.</summary>
    private static long PeakResidentMiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
}
