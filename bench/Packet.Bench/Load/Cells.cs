using Packet.Bench.Servers;

namespace Packet.Bench.Load;

/// <summary>One measurement: what load it runs, against which servers, divided by which of them, in which unit.</summary>
/// <param name="Id">A short name, for the log.</param>
/// <param name="Title">The row title in the results table.</param>
/// <param name="Unit">The unit of <see cref="CellResult.Value"/>.</param>
/// <param name="HigherIsBetter">False for memory.</param>
/// <param name="Servers">The servers it runs against, in the order they take their turns.</param>
/// <param name="Baseline">The server every other server's figure is divided by.</param>
/// <param name="Load">The load generator's mode and arguments, without <c>--port</c> and <c>--seconds</c>; <c>hold</c> for the idle cells.</param>
public sealed record Cell(string Id, string Title, string Unit, bool HigherIsBetter, string[] Servers, string Baseline, string[] Load)
{
    /// <summary>An idle cell: connections held idle, and the server's memory per connection read (<see cref="NativeLoadGenerator.IdleKiBPerConnectionAsync"/>).</summary>
    public bool Idle => Load is ["hold", ..];

    /// <summary>The echo servers with their names in the results, in table order: the baselines, then PacketAkka on each transport.</summary>
    public static readonly (string Server, string Name)[] EchoColumns =
    [
        (RawServer, "raw Socket"),
        ("kestrel-echo-server", "Kestrel"),
        (EventMachineEchoServer.Name, "EventMachine"),
        ("echo-server", "PacketAkka on Akka.IO"),
        ("echo-server-on-sockets", "PacketAkka on sockets"),
    ];

    public static readonly string[] EchoServers = EchoColumns.Select(c => c.Server).ToArray();

    /// <summary>The baseline every echo figure is divided by.</summary>
    public const string RawServer = "raw-echo-server";

    /// <summary>The TLS echo servers with their names in the results: the SslStream baseline, then PacketAkka on each transport.</summary>
    public static readonly (string Server, string Name)[] TlsColumns =
    [
        (RawTlsEchoServer.Name, "raw SslStream"),
        ("tls-echo-server", "PacketAkka on Akka.IO"),
        ("tls-echo-server-on-sockets", "PacketAkka on sockets"),
    ];

    public static readonly string[] TlsServers = TlsColumns.Select(c => c.Server).ToArray();

    /// <summary>
    /// PacketAkka's AskWorker line echo, its floor (one process hop over a Unix socket), the same floor with
    /// its hop over Akka.Remote, and the Akka.Remote ping-pong, in turn order.
    /// </summary>
    public static readonly string[] WorkerServers = ["worker-echo-server", WorkerFloorServer.Name, WorkerFloorServer.OverAkkaRemote, AkkaRemotePingPong.Name];

    /// <summary>The echo cells of issue 4's table, the TLS echo cells, then the worker cells: lines through AskWorker.</summary>
    public static readonly Cell[] All =
    [
        Echo("rr", "1 conn, 64 B, one in flight", "round trips/s", ["echo", "--conns", "1", "--depth", "1", "--size", "64"]),
        Echo("pipelined", "100 conns, 64 B, 16 in flight", "msgs/s", ["echo", "--conns", "100", "--depth", "16", "--size", "64"]),
        Echo("bulk", "10 conns, 16 KiB, 4 in flight", "MB/s", ["echo", "--conns", "10", "--depth", "4", "--size", "16384"]),
        Echo("connect", "connect + echo + close, 50 at once", "conns/s", ["connect", "--concurrency", "50", "--size", "64"]),
        new("idle", "memory per idle connection, 5,000 held", "KiB", false, EchoServers, RawServer, ["hold"]),
        Tls("tls-rr", "TLS: 1 conn, 64 B, one in flight", "round trips/s", ["echo", "--tls", "--conns", "1", "--depth", "1", "--size", "64"]),
        Tls("tls-pipelined", "TLS: 100 conns, 64 B, 16 in flight", "msgs/s", ["echo", "--tls", "--conns", "100", "--depth", "16", "--size", "64"]),
        Tls("tls-bulk", "TLS: 10 conns, 16 KiB, 4 in flight", "MB/s", ["echo", "--tls", "--conns", "10", "--depth", "4", "--size", "16384"]),
        new("tls-idle", "TLS: memory per idle connection, 5,000 held", "KiB", false, TlsServers, RawTlsEchoServer.Name, ["hold", "--tls"]),
        Worker("worker-1", "line via AskWorker, 1 conn, one in flight", 1, 1),
        Worker("worker-50", "line via AskWorker, 50 conns, one in flight each", 50, 1),
        Worker("worker-50x16", "line via AskWorker, 50 conns, 16 in flight each", 50, 16),
    ];

    private static Cell Echo(string id, string title, string unit, string[] load) => new(id, title, unit, true, EchoServers, RawServer, load);

    private static Cell Tls(string id, string title, string unit, string[] load) => new(id, title, unit, true, TlsServers, RawTlsEchoServer.Name, load);

    private static Cell Worker(string id, string title, int conns, int depth) =>
        new(id, title, "lines/s", true, WorkerServers, WorkerFloorServer.Name, ["echo", "--lines", "--conns", $"{conns}", "--depth", $"{depth}", "--size", "64"]);

    /// <summary>How long each server runs an echo cell, unrecorded, before its measured runs.</summary>
    public static readonly TimeSpan EchoWarmUp = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long each server runs a worker cell before its measured runs. PacketAkka's AskWorker echo
    /// needs longer than the echo servers: on the shared two-core machine, after 2 s of warm-up its first
    /// 3 s run of 50 lines in flight ran at half the rate of the runs after it (7-10 k against 14-19 k
    /// lines/s), and with 4 s it still did; with 10 s it ran at its later rate from the first run.
    /// </summary>
    public static readonly TimeSpan WorkerWarmUp = TimeSpan.FromSeconds(10);

    /// <summary>This cell's warm-up: <see cref="EchoWarmUp"/> or <see cref="WorkerWarmUp"/>.</summary>
    public TimeSpan WarmUp => Servers == WorkerServers ? WorkerWarmUp : EchoWarmUp;

    /// <summary>Messages in flight at once: what the ping-pong floor matches.</summary>
    public int InFlight => int.Parse(Load[Array.IndexOf(Load, "--conns") + 1]) * int.Parse(Load[Array.IndexOf(Load, "--depth") + 1]);

    /// <summary>Runs the load generator against a server listening on <paramref name="port"/> for <paramref name="duration"/>.</summary>
    public async Task<CellResult> RunAsync(int port, TimeSpan duration)
    {
        var run = await NativeLoadGenerator.RunAsync([.. Load, "--port", $"{port}", "--seconds", FormattableString.Invariant($"{duration.TotalSeconds}")], duration + TimeSpan.FromMinutes(2));
        var value = run.GetProperty(Unit switch
        {
            "MB/s" => "mb_per_s",
            "conns/s" => "conns_per_s",
            _ => "msgs_per_s",
        }).GetDouble();
        return new CellResult(value, run.GetProperty("messages_all").GetInt64(), run.GetProperty("p50_us").GetDouble(), run.GetProperty("p99_us").GetDouble(),
            run.GetProperty("p999_us").GetDouble(), run.GetProperty("cpu_us_per_msg").GetDouble());
    }
}
