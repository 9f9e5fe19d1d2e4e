using System.Diagnostics;
using Packet.Actors.Cluster;

namespace Packet.Tests.Support;

/// <summary>A host agent process (<c>Packet.WorkerHost.dll join</c>); its output is collected, and it is killed if the test leaves it running.</summary>
internal sealed class HostAgent : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _output;

    /// <summary>Starts <c>join</c> with <paramref name="args"/>.</summary>
    public HostAgent(params string[] args) : this(null, args) { }

    /// <summary>Starts <c>join</c> with <paramref name="args"/>, inside <paramref name="network"/> when given (<c>ip netns exec</c> execs it: the process id is the agent's).</summary>
    public HostAgent(NetworkNamespace? network, params string[] args)
    {
        string[] join = ["exec", Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll"), "join", .. args];
        var start = network is null ? new ProcessStartInfo("dotnet", join) : new ProcessStartInfo("ip", ["netns", "exec", network.Name, "dotnet", .. join]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        _process = Process.Start(start)!;
        var error = _process.StandardError.ReadToEndAsync();
        _output = _process.StandardOutput.ReadToEndAsync().ContinueWith(output => output.Result + error.Result, TaskScheduler.Default);
    }

    public int Pid => _process.Id;

    /// <summary>The agent's node address, as the master's node sees its member (the only host member).</summary>
    public string Address(ClusterNode master) =>
        Akka.Cluster.Cluster.Get(master.System).State.Members.Single(m => m.HasRole(ClusterSettings.HostRole)).Address.ToString();

    /// <summary>Waits for the agent to end; its exit code and everything it wrote.</summary>
    public async Task<(int ExitCode, string Output)> ExitAsync(TimeSpan? limit = null)
    {
        await _process.WaitForExitAsync().Within("the host agent to end", limit);
        return (_process.ExitCode, await _output.Within("the host agent's output"));
    }

    /// <summary>Kills the agent with its WorkerHosts if it still runs; everything it wrote, to show why a test waited in vain.</summary>
    public async Task<string> KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        return (await ExitAsync()).Output;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
