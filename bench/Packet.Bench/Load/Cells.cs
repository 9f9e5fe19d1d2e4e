using Packet.Bench.Servers;

namespace Packet.Bench.Load;

/// <summary>One measurement: what it runs, against which servers, in which unit.</summary>
/// <param name="Id">The name on the command line (<c>loadgen --cell ID</c>).</param>
/// <param name="Title">The row title in the results table.</param>
/// <param name="Unit">The unit of <see cref="CellResult.Value"/>.</param>
/// <param name="HigherIsBetter">False for memory.</param>
/// <param name="Servers">The server modes it runs against.</param>
public sealed record Cell(string Id, string Title, string Unit, bool HigherIsBetter, string[] Servers)
{
    /// <summary>The echo servers with their names in the results, in table order: the baselines, then PacketAkka on each transport.</summary>
    public static readonly (string Server, string Name)[] EchoColumns =
    [
        (RawServer, "raw Socket"),
        ("kestrel-echo-server", "Kestrel"),
        (EventMachineEchoServer.Name, "EventMachine"),
        ("echo-server", "PacketAkka on Akka.IO"),
        ("echo-server-on-kestrel", "PacketAkka on Kestrel"),
        ("echo-server-on-sockets", "PacketAkka on sockets"),
    ];

    public static readonly string[] EchoServers = EchoColumns.Select(c => c.Server).ToArray();

    /// <summary>The baseline every echo figure is divided by.</summary>
    public const string RawServer = "raw-echo-server";

    /// <summary>The echo cells of issue 4's table, then the end-to-end worker cells.</summary>
    public static readonly Cell[] All =
    [
        new("rr", "1 conn, 64 B, one in flight", "round trips/s", true, EchoServers),
        new("pipelined", "100 conns, 64 B, 16 in flight", "msgs/s", true, EchoServers),
        new("bulk", "10 conns, 16 KiB, 4 in flight", "MB/s", true, EchoServers),
        new("connect", "connect + echo + close, 50 at once", "conns/s", true, EchoServers),
        new("idle", "memory per idle connection, 5,000 held", "KiB", false, EchoServers),
        new("worker-1", "line via AskWorker, 1 client", "round trips/s", true, ["worker-echo-server"]),
        new("worker-50", "line via AskWorker, 50 clients", "round trips/s", true, ["worker-echo-server"]),
    ];

    /// <summary>Runs this cell against a server listening on <paramref name="port"/> (process <paramref name="serverPid"/>).</summary>
    public Task<CellResult> RunAsync(int port, int serverPid, TimeSpan duration, bool quick) => Id switch
    {
        "rr" => LoadGenerator.EchoAsync(port, 1, 64, 1, duration, lines: false),
        "pipelined" => LoadGenerator.EchoAsync(port, 100, 64, 16, duration, lines: false),
        "bulk" => Megabytes(LoadGenerator.EchoAsync(port, 10, 16 * 1024, 4, duration, lines: false), 16 * 1024),
        "connect" => LoadGenerator.ConnectAsync(port, 50, duration),
        "idle" => LoadGenerator.IdleMemoryAsync(port, serverPid, quick ? 500 : 5000),
        "worker-1" => LoadGenerator.EchoAsync(port, 1, 64, 1, duration, lines: true),
        "worker-50" => LoadGenerator.EchoAsync(port, 50, 64, 1, duration, lines: true),
        _ => throw new ArgumentException($"no cell is named {Id}"),
    };

    private static async Task<CellResult> Megabytes(Task<CellResult> messages, int size)
    {
        var result = await messages;
        return result with { Value = result.Value * size / 1_000_000.0 };
    }
}
