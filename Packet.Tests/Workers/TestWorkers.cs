using Packet.Actors;

namespace Packet.Tests.Workers;

/// <summary>A payload type the tests allow-list.</summary>
public sealed record Job(string Owner, int Number);

/// <summary>A payload type nobody allow-lists.</summary>
public sealed record Forbidden(string Text);

/// <summary>Echoes, and misbehaves on request: the worker the suite asks most.</summary>
[Worker("echo_worker")]
public sealed class EchoWorker : Worker
{
    protected override object? ReceiveData(object? data) => data switch
    {
        "pid" => Environment.ProcessId,
        "loh-threshold" => Convert.ToInt64(GC.GetConfigurationVariables()["LOHThreshold"]),
        "throw" => throw new InvalidOperationException("asked to throw"),
        "hang" => Hang(),
        string s when s.StartsWith("sleep:", StringComparison.Ordinal) => Sleep(int.Parse(s[6..]), s),
        string s when s.StartsWith("status:", StringComparison.Ordinal) => Status(s[7..]),
        string s when s.StartsWith("relay:", StringComparison.Ordinal) => Relay(s[6..]),
        Job job => job with { Number = job.Number + 1 },
        "forbidden" => new Forbidden("cannot travel"),
        "mark" => Interlocked.Increment(ref _marks),
        "marks" => Volatile.Read(ref _marks),
        "serve" => Serve(),
        _ => data,
    };

    private int _marks;

    private static object Hang()
    {
        Thread.Sleep(Timeout.Infinite);
        return "never";
    }

    /// <summary>A worker is a full reactor: it can run its own servers.</summary>
    private int Serve() =>
        Reactor.StartServerAsync("127.0.0.1", 0, () => new Support.Recorder { Echo = true }).GetAwaiter().GetResult().LocalEndPoint.Port;

    private static object Sleep(int milliseconds, string s)
    {
        Thread.Sleep(milliseconds);
        return s;
    }

    private string Status(string text)
    {
        SendData(text);
        return "ok";
    }

    private string Relay(string text)
    {
        SendRequest("sink_worker", text);
        return "relayed";
    }
}

/// <summary>Keeps what other workers send it and reports it as its status.</summary>
[Worker("sink_worker")]
public sealed class SinkWorker : Worker
{
    protected override object? ReceiveData(object? data)
    {
        SendData($"sink got {data}");
        return null;
    }
}

/// <summary>Started only on request, by key, with options.</summary>
[Worker("keyed_worker", NoAutoLoad = true)]
public sealed class KeyedWorker : Worker
{
    private string _greeting = "";

    protected override void WorkerInit()
    {
        _greeting = WorkerOptions.TryGetValue("greeting", out var g) ? g : "none";
        // Written only if the process ends on its own: a killed process runs no exit handler.
        if (WorkerOptions.TryGetValue("exit-mark", out var mark)) AppDomain.CurrentDomain.ProcessExit += (_, _) => File.WriteAllText(mark, "ended");
        Console.WriteLine($"keyed worker {Key} ready");
    }

    protected override object? ReceiveData(object? data) => data is "pid" ? Environment.ProcessId : $"{Key}:{_greeting}:{data}";
}

/// <summary>Two instances, one ask each at a time: a hang in one must not hold up the other.</summary>
[Worker("pool_worker", NoAutoLoad = true, Instances = 2, MaxInFlight = 1)]
public sealed class PoolWorker : Worker
{
    protected override object? ReceiveData(object? data) => data switch
    {
        "hang" => Hang(),
        "pid" => Environment.ProcessId,
        string s when s.StartsWith("sleep:", StringComparison.Ordinal) => Sleep(int.Parse(s[6..]), s),
        _ => data,
    };

    private static object Sleep(int milliseconds, string s)
    {
        Thread.Sleep(milliseconds);
        return s;
    }

    private static object Hang()
    {
        Thread.Sleep(Timeout.Infinite);
        return "never";
    }
}

/// <summary>Pushes what it is asked; its custom proxy shouts it and asks back.</summary>
[Worker("shout_worker", NoAutoLoad = true, Proxy = typeof(ShoutPimp))]
public sealed class ShoutWorker : Worker
{
    protected override object? ReceiveData(object? data)
    {
        SendData(data is "pong" ? "pong received" : data);
        return "pushed";
    }
}

/// <summary>A custom proxy: upper-cases every status, and answers a "ping" push with a request to its worker.</summary>
public sealed class ShoutPimp : MetaPimp
{
    protected override void ReceiveData(object? data)
    {
        if (data is "ping") SendRequest("pong");
        base.ReceiveData($"{data}".ToUpperInvariant());
    }
}

/// <summary>Named only in code: no config lists it.</summary>
[Worker("code_worker", NoAutoLoad = true)]
public sealed class CodeWorker : Worker
{
    protected override object? ReceiveData(object? data) => $"code worker got {data}";
}

/// <summary>A worker without [Worker]: refused with a clear error.</summary>
public sealed class Unnamed : Worker
{
    protected override object? ReceiveData(object? data) => data;
}

/// <summary>
/// Its WorkerInit takes as long as the test likes: it creates the file named by the "entered" option,
/// then waits (at most 30 s) for the file named by "gate". It answers every ask with its process id.
/// </summary>
[Worker("gated_worker", NoAutoLoad = true)]
public sealed class GatedWorker : Worker
{
    protected override void WorkerInit()
    {
        File.WriteAllText(WorkerOptions["entered"], "");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(WorkerOptions["gate"]) && DateTime.UtcNow < deadline) Thread.Sleep(10);
        SendData("initialised");
    }

    protected override object? ReceiveData(object? data) => Environment.ProcessId;
}

/// <summary>
/// Hostile code in a worker, as far as it can reach: it digs, by reflection, its own launch's secret
/// and instance id out of the WorkerHost's memory, and hands them to whoever asks.
/// </summary>
[Worker("thief_worker")]
public sealed class ThiefWorker : Worker
{
    private const System.Reflection.BindingFlags Hidden = System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance;

    protected override object? ReceiveData(object? data)
    {
        var self = typeof(Worker).GetField("_self", Hidden)!.GetValue(this)!;
        var cell = ((Akka.Actor.ActorRefWithCell)self).Underlying;
        var actor = cell.GetType().GetProperty("Actor", Hidden)!.GetValue(cell)!;
        var start = actor.GetType().GetField("_start", Hidden)!.GetValue(actor)!;
        string Read(string name) => $"{start.GetType().GetProperty(name)!.GetValue(start)}";
        return new[] { Read("Secret"), Read("Instance") };
    }
}
