using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>One master reactor with the test workers, shared by a test class; stopping it reaps every host.</summary>
public abstract class WorkerFixture : IAsyncLifetime
{
    public Reactor Reactor { get; private set; } = null!;

    /// <summary>Where the workers run: <c>off</c> for WorkerHost processes, <c>on</c> for actors in the master.</summary>
    protected abstract string InProcess { get; }

    public async Task InitializeAsync()
    {
        Reactor = Master("3s");
        await RunningAsync("echo_worker");
        await RunningAsync("sink_worker");
    }

    /// <summary>A master with the test workers, where they run in this fixture, whose asks wait at most <paramref name="askTimeout"/>.</summary>
    public Reactor Master(string askTimeout) => Reactors.Start($$"""
        packet.workers {
          in-process = {{InProcess}}
          types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests", "Packet.Tests.Workers.SinkWorker, Packet.Tests", "Packet.Tests.Workers.KeyedWorker, Packet.Tests", "Packet.Tests.Workers.PoolWorker, Packet.Tests", "Packet.Tests.Workers.GatedWorker, Packet.Tests", "Packet.Tests.Workers.ShoutWorker, Packet.Tests"]
          allowed-types = ["Packet.Tests.Workers.Job, Packet.Tests"]
          ask-timeout = {{askTimeout}}
          restart.min-backoff = 100ms
        }
        """);

    public Task DisposeAsync() => Hosts.StopAsync(Reactor);

    /// <summary>Waits until the worker has registered (in a process other than <paramref name="replacing"/>), and returns its process id.</summary>
    public Task<int?> RunningAsync(string name, string? key = null, int? replacing = null) => Hosts.RunningAsync(Reactor, name, key, replacing);
}

/// <summary>Checks on WorkerHost processes by id.</summary>
public static class Hosts
{
    /// <summary>Stops <paramref name="reactor"/> and waits until each of its WorkerHosts has gone.</summary>
    public static async Task StopAsync(Reactor reactor)
    {
        var hosts = (await reactor.GetWorkersAsync()).Select(w => w.ProcessId).OfType<int>().ToArray();
        await reactor.StopAsync();
        foreach (var pid in hosts) await GoneAsync(pid);
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Waits until <paramref name="reactor"/>'s worker has registered (in a process other than <paramref name="replacing"/>), and returns its process id.</summary>
    public static async Task<int?> RunningAsync(Reactor reactor, string name, string? key = null, int? replacing = null)
    {
        WorkerInfo? info = null;
        await Bounded.Until(async () =>
        {
            info = (await reactor.GetWorkersAsync()).FirstOrDefault(w => w.Name == name && w.Key == key);
            return info is { State: "running" } && (replacing is null || info.ProcessId != replacing);
        }, $"worker {name} to run");
        return info!.ProcessId;
    }

    public static Task GoneAsync(int pid) => Bounded.Until(() => !IsAlive(pid), $"WorkerHost process {pid} to exit", TimeSpan.FromSeconds(10));
}

/// <summary>The workers in real Packet.WorkerHost processes.</summary>
public sealed class ProcessWorkerFixture : WorkerFixture
{
    protected override string InProcess => "off";
}

/// <summary>The same workers on actors inside the master.</summary>
public sealed class InProcessWorkerFixture : WorkerFixture
{
    protected override string InProcess => "on";
}
