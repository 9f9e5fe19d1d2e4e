using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using Packet.Actors;
using Packet.Bench.Servers;
using Packet.Tests.Support;

namespace Packet.Bench.Cluster;

/// <summary>
/// The cluster bench's master: a line server with no workers of its own, whose cluster host agents join
/// (<see cref="Agent"/>). Each line goes to one worker on one of their instances, and its answer back.
/// Its process prints <c>instances N</c> each time the count of its worker's running instances changes,
/// and <c>stats ASKS CONNECTIONS</c> each second: its asks in flight and its connections. Each line <c>heap</c> on its
/// standard input makes it collect garbage fully and print <c>heap LIVE COMMITTED</c>: the bytes its managed objects
/// hold then, and the bytes of memory the garbage collector keeps committed (its share of the resident memory).
/// </summary>
public sealed class ClusterMaster : IDisposable
{
    /// <summary>The mode that runs the master's process.</summary>
    public const string Mode = "cluster-master-server";

    private readonly Process _process;
    private readonly object _gate = new();
    private int _running;
    private (int Asks, int Connections) _stats;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClusterMaster(Process process, int port, string clusterHost, int clusterPort)
    {
        _process = process;
        Port = port;
        ClusterHost = clusterHost;
        ClusterPort = clusterPort;
        _ = Task.Run(ReadInstances);
    }

    /// <summary>Lines that start with this are asked idempotently: retried once on another host when theirs is lost.</summary>
    public const string IdempotentPrefix = "idempotent-";

    /// <summary>The port its clients connect to.</summary>
    public int Port { get; }

    /// <summary>The master's process id.</summary>
    public int Pid => _process.Id;

    /// <summary>The master's asks in flight and connections, as it last printed them (each second).</summary>
    public (int Asks, int Connections) Stats
    {
        get
        {
            lock (_gate) return _stats;
        }
    }

    /// <summary>The address host agents join its cluster at.</summary>
    public string ClusterHost { get; }

    /// <summary>The port host agents join its cluster at.</summary>
    public int ClusterPort { get; }

    /// <summary>
    /// Runs in the master's process: serves lines on <paramref name="port"/>, and prints <c>instances N</c> each time the
    /// count of its worker's running instances changes. With <paramref name="credentials"/> <see langword="null"/>, it runs
    /// the workers itself, in local WorkerHosts, and no cluster: the baseline for the agents' figures.
    /// </summary>
    public static Task ServeAsync(int port, string clusterHost, int clusterPort, string? credentials, string worker) => Reactor.RunAsync(async reactor =>
    {
        var server = await reactor.StartServerAsync("127.0.0.1", port, () => new Lines(worker));
        Console.WriteLine($"listening on {server.LocalEndPoint}");
        var asksInFlight = AsksInFlight();
        _ = Task.Run(() =>
        {
            while (Console.ReadLine() is "heap") Console.WriteLine($"heap {GC.GetTotalMemory(forceFullCollection: true)} {GC.GetGCMemoryInfo().TotalCommittedBytes}");
        });
        _ = Task.Run(async () =>
        {
            var last = -1;
            for (var tick = 0; ; tick++) // until the process is killed
            {
                if (tick % 20 == 0) Console.WriteLine($"stats {asksInFlight()} {reactor.ConnectionCount}");
                try
                {
                    var running = (await reactor.GetWorkersAsync()).Count(w => w.Name == worker && w.State == "running");
                    if (running != last) Console.WriteLine($"instances {last = running}");
                }
                catch (Exception e) when (e is TimeoutException or Akka.Actor.AskTimeoutException)
                {
                    // a listing that took too long under load: the next one tells
                }
                await Task.Delay(50);
            }
        });
    }, ConfigurationFactory.ParseString(credentials is null
        ? $"""
          packet.workers.root = "{Root.Replace('\\', '/')}"
          packet.workers.host = "{WorkerEchoServer.HostBuild()}"
          """
        : $$"""
          packet.workers.enabled = on
          packet.cluster { enabled = on, hostname = "{{clusterHost}}", port = {{clusterPort}}, credentials = "{{credentials.Replace('\\', '/')}}" }
          """).WithFallback(PacketEchoServer.Quiet));

    /// <summary>Hands each line to the worker, idempotently when it starts with <see cref="IdempotentPrefix"/>, and sends back its answer (or <c>error: ...</c>).</summary>
    private sealed class Lines(string worker) : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker(worker, line, idempotent: line.StartsWith(IdempotentPrefix, StringComparison.Ordinal));

        protected override void WorkerReceive(WorkerReply reply) => SendLine(reply.IsError ? $"error: {reply.Error}" : (string)reply.Data!);
    }

    /// <summary>Reads this process's reactor's <c>packet.worker.asks_in_flight</c> (see <see cref="Reactor"/>'s metrics).</summary>
    private static Func<int> AsksInFlight()
    {
        var value = 0;
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument is { Name: "packet.worker.asks_in_flight", Meter.Name: "PacketAkka" }) listener.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<int>((_, measurement, _, _) => value = measurement);
        listener.Start();
        return () =>
        {
            listener.RecordObservableInstruments();
            return value;
        };
    }

    /// <summary>The bench's cluster workers, built beside it: the agents' worker root, and the local baseline's.</summary>
    public static string Root => Path.Combine(AppContext.BaseDirectory, "cluster-workers");

    /// <summary>
    /// Starts the master's process for <paramref name="worker"/> and waits for it to listen; with <paramref name="credentials"/>
    /// <see langword="null"/>, the local baseline. Its cluster node is at <paramref name="clusterHost"/> (127.0.0.1 by default).
    /// </summary>
    public static async Task<ClusterMaster> StartAsync(string? credentials, string worker, string clusterHost = "127.0.0.1")
    {
        var clusterPort = FreePort(clusterHost);
        var process = credentials is null
            ? BenchRunner.StartSelf(Mode, "--port", "0", "--worker", worker, "--local")
            : BenchRunner.StartSelf(Mode, "--port", "0", "--cluster-host", clusterHost, "--cluster-port", $"{clusterPort}", "--credentials", credentials, "--worker", worker);
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (line?.StartsWith("listening on ", StringComparison.Ordinal) != true)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the cluster master did not start: {line ?? await process.StandardError.ReadToEndAsync()}");
        }
        var master = new ClusterMaster(process, int.Parse(line[(line.LastIndexOf(':') + 1)..]), clusterHost, clusterPort);
        _ = Task.Run(() => master._errors.Collect(process.StandardError));
        return master;
    }

    private readonly OutputTail _errors = new();

    /// <summary>The master's last 30 lines of log (standard error), to show when it does not do what the bench waits for.</summary>
    public string Tail => _errors.Text;

    /// <summary>The bytes the master's managed objects hold after a full garbage collection, and those its garbage collector keeps committed (see the class's summary).</summary>
    public async Task<(long Live, long Committed)> HeapAsync()
    {
        var heap = new TaskCompletionSource<(long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate) _heap = heap;
        await _process.StandardInput.WriteLineAsync("heap");
        await _process.StandardInput.FlushAsync();
        return await heap.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private TaskCompletionSource<(long, long)>? _heap;

    /// <summary>Waits until exactly <paramref name="count"/> instances of the worker are running; the time it took.</summary>
    public async Task<TimeSpan> InstancesAsync(int count, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_running == count) return waited.Elapsed;
                changed = _changed.Task;
            }
            var left = limit - waited.Elapsed;
            if (left <= TimeSpan.Zero || await Task.WhenAny(changed, Task.Delay(left)) != changed)
                throw new TimeoutException($"waited {limit.TotalSeconds:0} s for {count} running instances at the cluster master (it has {_running})");
        }
    }

    private async Task ReadInstances()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("heap ", StringComparison.Ordinal))
            {
                var bytes = line.Split(' ');
                lock (_gate) _heap?.TrySetResult((long.Parse(bytes[1]), long.Parse(bytes[2])));
                continue;
            }
            if (line.StartsWith("stats ", StringComparison.Ordinal))
            {
                var fields = line.Split(' ');
                lock (_gate) _stats = (int.Parse(fields[1]), int.Parse(fields[2]));
                continue;
            }
            if (!line.StartsWith("instances ", StringComparison.Ordinal)) continue;
            lock (_gate)
            {
                _running = int.Parse(line["instances ".Length..]);
                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Dispose()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }

    /// <summary>A port free now, for the master's cluster node (the bench must know it before the master starts, to start agents).</summary>
    private static int FreePort(string host)
    {
        using var probe = new TcpListener(IPAddress.Parse(host), 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>A host agent (<c>Packet.WorkerHost.dll join</c>) running the bench's cluster workers; killed with its WorkerHosts if still running at its disposal.</summary>
public sealed class Agent : IDisposable
{
    private readonly Process _process;

    private Agent(Process process) => _process = process;

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The agent's exit code, once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts an agent that joins <paramref name="master"/>'s cluster; inside <paramref name="network"/>, at its address, when given.</summary>
    public static Agent Start(ClusterMaster master, string credentials, NetworkNamespace? network = null)
    {
        string[] join = ["exec", WorkerEchoServer.HostBuild(), "join", "--seed", $"{master.ClusterHost}:{master.ClusterPort}", "--root", ClusterMaster.Root, "--credentials", credentials];
        var start = network is null
            ? new ProcessStartInfo("dotnet", join)
            : new ProcessStartInfo("ip", ["netns", "exec", network.Name, "dotnet", .. join, "--hostname", network.There]); // exec'd: the process id is the agent's
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start)!;
        var agent = new Agent(process);
        _ = Task.Run(() => agent._tail.Collect(process.StandardOutput));
        _ = Task.Run(() => agent._tail.Collect(process.StandardError));
        return agent;
    }

    private readonly OutputTail _tail = new();

    /// <summary>The agent's last 30 lines of output, to show when it does not do what the bench waits for.</summary>
    public string Tail => _tail.Text;

    /// <summary>Makes a cluster's credentials in <paramref name="folder"/>, with the WorkerHost's own command, naming <paramref name="hostnames"/>.</summary>
    public static void Credentials(string folder, params string[] hostnames)
    {
        using var process = Process.Start(new ProcessStartInfo("dotnet", ["exec", WorkerEchoServer.HostBuild(), "credentials", folder, .. hostnames.SelectMany(h => new[] { "--hostname", h })])
        {
            RedirectStandardOutput = true,
        })!;
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000) || process.ExitCode != 0) throw new InvalidOperationException($"could not make the cluster's credentials in {folder}");
    }

    /// <summary>Waits for the agent to exit by itself.</summary>
    public Task ExitAsync(TimeSpan limit) => _process.WaitForExitAsync().WaitAsync(limit);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}

/// <summary>The last 30 lines a process wrote to the streams it is given, kept to show when it does not do what the bench waits for.</summary>
internal sealed class OutputTail
{
    private readonly Queue<string> _lines = new();

    public string Text
    {
        get
        {
            lock (_lines) return string.Join('\n', _lines);
        }
    }

    /// <summary>Reads <paramref name="output"/> to its end, keeping its last lines.</summary>
    public async Task Collect(StreamReader output)
    {
        while (await output.ReadLineAsync() is { } line)
            lock (_lines)
            {
                _lines.Enqueue(line);
                if (_lines.Count > 30) _lines.Dequeue();
            }
    }
}
