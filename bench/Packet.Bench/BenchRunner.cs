using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Packet.Bench.Load;
using Packet.Bench.Servers;

namespace Packet.Bench;

/// <summary>
/// Runs every cell against every server it names, each server in its own process and the load generator
/// in another, and writes the table of absolute figures and ratios to each cell's baseline.
/// </summary>
public static class BenchRunner
{
    /// <summary>One run of a cell against one server.</summary>
    /// <param name="Result">What the load generator measured.</param>
    /// <param name="CpuMicrosPerMessage">The CPU time of the server and the processes it started, per message.</param>
    /// <param name="PeakRssKiB">The server's peak resident memory.</param>
    private sealed record Run(CellResult Result, double CpuMicrosPerMessage, long PeakRssKiB);

    /// <summary>Every run of a cell against one server, in turn order.</summary>
    private sealed record Row(Cell Cell, string Server, Run[] Runs)
    {
        /// <summary>The run with the median value.</summary>
        public Run Median => Runs.OrderBy(r => r.Result.Value).ElementAt(Runs.Length / 2);

        /// <summary>Each turn's value ÷ <paramref name="other"/>'s in the same turn, in ascending order.</summary>
        public double[] TurnRatios(Row other) => Runs.Zip(other.Runs, (a, b) => a.Result.Value / b.Result.Value).Order().ToArray();
    }

    /// <summary>
    /// Runs everything; each cell <paramref name="runs"/> times, reporting the median run, since the machine
    /// is shared and noisy. The servers of a cell take turns, run by run, so each ratio to the baseline
    /// compares runs made seconds apart, not a whole bench apart. <paramref name="only"/> (cell ids) and
    /// <paramref name="seconds"/> make a partial run, to check a few cells: it prints its table and writes no results.
    /// </summary>
    public static async Task<int> RunAsync(bool quick, int runs, string resultsFolder, string[]? only = null, double? seconds = null)
    {
        var duration = TimeSpan.FromSeconds(seconds ?? (quick ? 1 : 5));
        if (quick) runs = 1;
        var cells = only is null ? Cell.All : Cell.All.Where(c => only.Contains(c.Id)).ToArray();
        if (only?.Except(cells.Select(c => c.Id)).FirstOrDefault() is { } unknown)
        {
            Console.Error.WriteLine($"Packet.Bench: no cell is named {unknown}; the cells are {string.Join(", ", Cell.All.Select(c => c.Id))}");
            return 2;
        }
        try
        {
            await NativeLoadGenerator.BuildAsync();
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"Packet.Bench: {e.Message}"); // no C compiler, or the build failed: stop before any server starts
            return 1;
        }
        var eventMachine = EventMachineEchoServer.InstalledVersion;
        if (eventMachine is null) Console.Error.WriteLine("EventMachine is not installed (Debian: apt-get install ruby-eventmachine), so its column stays empty");
        var rows = new List<Row>();
        foreach (var cell in cells)
        {
            var servers = cell.Servers.Where(server => server != EventMachineEchoServer.Name || eventMachine is not null).ToArray();
            var measured = servers.ToDictionary(server => server, _ => new List<Run>());
            async Task TakeTurns(Dictionary<string, Server> started)
            {
                foreach (var (name, server) in started)
                    measured[name].Add(await MeasureAsync(cell, name, server, duration, quick));
            }
            if (cell.Idle)
            {
                // Memory is read as RSS growth, so each idle run gets fresh servers.
                for (var run = 0; run < runs; run++) await WithServersAsync(servers, TakeTurns);
            }
            else
            {
                await WithServersAsync(servers, async started =>
                {
                    if (!quick) await WarmUpAsync(cell, started);
                    for (var run = 0; run < runs; run++) await TakeTurns(started);
                });
            }
            foreach (var (server, results) in measured)
            {
                var row = new Row(cell, server, [.. results]);
                rows.Add(row);
                Console.Error.WriteLine($"{server,-24} {cell.Title,-48} {Format(row.Median.Result.Value),12} {cell.Unit}   (runs: {string.Join(", ", results.Select(r => Format(r.Result.Value)))})");
            }
        }
        var table = Markdown(rows, quick, runs, duration, eventMachine);
        Console.WriteLine(table);
        if (!quick && only is null && seconds is null)
        {
            Directory.CreateDirectory(resultsFolder);
            await File.WriteAllTextAsync(Path.Combine(resultsFolder, "results.md"), table + "\n![echo cells as ratios to raw](echo-ratios.png)\n");
            var echo = Cell.All.Where(c => c.Servers == Cell.EchoServers).ToArray();
            Row Of(Cell cell, string server) => rows.Single(r => r.Cell == cell && r.Server == server);
            Chart.Ratios(echo.Select(c => c.Title).ToArray(),
                Cell.EchoColumns.Where(c => c.Server != Cell.RawServer && rows.Any(r => r.Server == c.Server))
                    .Select(c => (c.Name,
                        echo.Select(cell => Median(Of(cell, c.Server).TurnRatios(Of(cell, Cell.RawServer)))).ToArray(),
                        echo.Select(cell => Of(cell, c.Server).TurnRatios(Of(cell, Cell.RawServer)) is var turns ? (turns[0], turns[^1]) : default).ToArray())).ToArray(),
                Path.Combine(resultsFolder, "echo-ratios.png"));
        }
        return 0;
    }

    /// <summary>A running server: its process, and the port it listens on (0 for the ping-pong driver, which takes commands on its standard input).</summary>
    private sealed record Server(Process Process, int Port);

    /// <summary>Starts every server of a cell, each in its own process, runs <paramref name="measure"/>, and kills them all.</summary>
    private static async Task WithServersAsync(IEnumerable<string> servers, Func<Dictionary<string, Server>, Task> measure)
    {
        var processes = new List<Process>();
        try
        {
            var started = new Dictionary<string, Server>();
            foreach (var server in servers)
            {
                var process = server switch
                {
                    EventMachineEchoServer.Name => Start(EventMachineEchoServer.StartInfo()),
                    AkkaRemotePingPong.Name => StartSelf("ping-pong"),
                    _ => StartSelf(server, "--port", "0"),
                };
                processes.Add(process);
                started[server] = new Server(process, server == AkkaRemotePingPong.Name ? await ReadyAsync(process) : await ListeningPortAsync(process));
            }
            await measure(started);
        }
        finally
        {
            foreach (var process in processes)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                process.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs the cell against each server for <see cref="Cell.WarmUp"/> and discards the figures, so the runs
    /// measure servers whose code the JIT has compiled, as in a server that has been up a while. Without
    /// it, a cold server's first run counts: PacketAkka's accept path (actor creation included) ran at
    /// a third of its warm rate in its first 5 s, where raw sockets warm up within a second.
    /// </summary>
    private static async Task WarmUpAsync(Cell cell, Dictionary<string, Server> started)
    {
        foreach (var (name, server) in started) await LoadAsync(cell, name, server, cell.WarmUp, quick: false);
    }

    private static async Task<Run> MeasureAsync(Cell cell, string name, Server server, TimeSpan duration, bool quick)
    {
        var process = server.Process;
        var cpuBefore = ProcessStats.TreeCpuSeconds(process.Id);
        CellResult result;
        try
        {
            result = await LoadAsync(cell, name, server, duration, quick);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{name} failed the cell '{cell.Title}': {e.Message}", e);
        }
        var cpu = ProcessStats.TreeCpuSeconds(process.Id) - cpuBefore;
        return new Run(result, result.Messages > 0 ? cpu * 1e6 / result.Messages : 0, ProcessStats.PeakRssKiB(process.Id));
    }

    /// <summary>One run of the cell: the native load generator against a server, or a command to the ping-pong driver.</summary>
    private static async Task<CellResult> LoadAsync(Cell cell, string name, Server server, TimeSpan duration, bool quick)
    {
        var process = server.Process;
        if (name == AkkaRemotePingPong.Name)
        {
            await process.StandardInput.WriteLineAsync(FormattableString.Invariant($"{cell.InFlight} {duration.TotalSeconds}"));
            await process.StandardInput.FlushAsync();
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(duration + TimeSpan.FromMinutes(1));
            return JsonSerializer.Deserialize<CellResult>(line ?? throw new InvalidOperationException("the ping-pong driver ended"))!;
        }
        if (!cell.Idle) return await cell.RunAsync(server.Port, duration);
        var kib = await NativeLoadGenerator.IdleKiBPerConnectionAsync(server.Port, process.Id, quick ? 500 : 5000, TimeSpan.FromSeconds(2), cell.Load[1..]);
        return new CellResult(kib, 0, null, null, null, null);
    }

    /// <summary>Starts this program in another mode, as its own process, with its standard streams redirected.</summary>
    internal static Process StartSelf(params string[] arguments) =>
        Start(new ProcessStartInfo("dotnet", ["exec", typeof(BenchRunner).Assembly.Location, .. arguments]));

    /// <summary>The folder that holds PacketAkka.sln, found upwards from this program's build output.</summary>
    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PacketAkka.sln"))) directory = directory.Parent;
        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }

    /// <summary>Starts a process with its standard streams redirected.</summary>
    private static Process Start(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        return Process.Start(info)!;
    }

    /// <summary>The port a server prints in its <c>listening on HOST:PORT</c> line; its output is drained from then on.</summary>
    internal static async Task<int> ListeningPortAsync(Process server)
    {
        var line = await Task.Run(() =>
        {
            while (server.StandardOutput.ReadLine() is { } l)
                if (l.StartsWith("listening on ", StringComparison.Ordinal)) return l;
            return null;
        }).WaitAsync(TimeSpan.FromSeconds(60));
        _ = server.StandardOutput.ReadToEndAsync();
        _ = server.StandardError.ReadToEndAsync();
        return line is null ? throw new InvalidOperationException("a server ended without listening") : int.Parse(line[(line.LastIndexOf(':') + 1)..]);
    }

    /// <summary>Waits for the ping-pong driver's <c>ready</c>; its standard output then carries one result per command. Returns 0, its port.</summary>
    private static async Task<int> ReadyAsync(Process driver)
    {
        _ = driver.StandardError.ReadToEndAsync();
        var line = await driver.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return line == "ready" ? 0 : throw new InvalidOperationException($"the ping-pong driver did not start: {line ?? "it ended"}");
    }

    private static string Markdown(List<Row> rows, bool quick, int runs, TimeSpan duration, string? eventMachine)
    {
        var text = new StringBuilder();
        text.AppendLine(quick ? "# PacketAkka benchmark (quick smoke run: figures not comparable)" : "# PacketAkka benchmark");
        text.AppendLine();
        text.AppendLine($"Each figure is the median of {runs} runs of {duration.TotalSeconds:0} s. Machine: {Environment.ProcessorCount} cores, {CpuModel()}, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; " +
                        "servers and load generator on the same machine over 127.0.0.1, each in its own process; the load generator is the bench's own, " +
                        "single-threaded C on epoll (bench/loadgen, how it was checked: bench/README.md). " +
                        (quick ? "The servers of a cell take turns run by run, " : $"Each server first runs the cell, unrecorded, to warm up ({Cell.EchoWarmUp.TotalSeconds:0} s; {Cell.WorkerWarmUp.TotalSeconds:0} s in the worker cells); then the servers of a cell take turns run by run, ") +
                        "and each ÷ raw (÷ floor) is the median of the ratios to the baseline's run in the same turn. " +
                        (eventMachine is null
                            ? "EventMachine was not installed, so its column is empty (Debian: apt-get install ruby-eventmachine)."
                            : $"The EventMachine echo ran on {eventMachine}, with epoll."));
        text.AppendLine();
        Row? Of(Cell cell, string server) => rows.FirstOrDefault(r => r.Cell == cell && r.Server == server);
        string Ratio(Cell cell, string server, string baseline) =>
            Of(cell, server) is { } row && Of(cell, baseline) is { } other ? $"{Median(row.TurnRatios(other)):0.00}×" : "–";
        string Value(Cell cell, string server) => Format(Of(cell, server)?.Median.Result.Value);

        // Every column but the baseline carries its ratio to the baseline beside it.
        void Table((string Server, string Name)[] columns, string[] servers, string baseline, string divided)
        {
            if (!rows.Any(r => r.Cell.Servers == servers)) return;
            bool Divided((string Server, string Name) column) => column.Server != baseline;
            text.AppendLine($"| cell | unit | {string.Join(" | ", columns.Select(c => Divided(c) ? $"{c.Name} | {divided}" : c.Name))} |");
            text.AppendLine($"|---|---|{string.Concat(columns.Select(c => Divided(c) ? "---|---|" : "---|"))}");
            foreach (var cell in Cell.All.Where(c => c.Servers == servers && rows.Any(r => r.Cell == c)))
                text.AppendLine($"| {cell.Title} | {cell.Unit} | " +
                                string.Join(" | ", columns.Select(c => Divided(c) ? $"{Value(cell, c.Server)} | {Ratio(cell, c.Server, baseline)}" : Value(cell, c.Server))) + " |");
            text.AppendLine();
        }
        Table(Cell.EchoColumns, Cell.EchoServers, Cell.RawServer, "÷ raw");
        if (rows.Any(r => r.Cell.Servers == Cell.TlsServers))
        {
            text.AppendLine("The TLS cells run the same echo in TLS 1.3 (the load generator's OpenSSL, each connection's handshake before the clock starts); " +
                            "the baseline is .NET's SslStream over a NetworkStream, one task per connection, as the raw echo is without TLS.");
            text.AppendLine();
            Table(Cell.TlsColumns, Cell.TlsServers, RawTlsEchoServer.Name, "÷ raw SslStream");
        }
        text.AppendLine("The worker cells send 64 B lines (63 printable bytes and a newline) over TCP, and each server hands each line to another process and sends its answer back. " +
                        "PacketAkka is the AskWorker line echo (`worker-echo-server`: a `LineConnection` asking an echo worker in a WorkerHost). " +
                        "The floor is the bench's own: a minimal .NET server that hands each line to one child process over a Unix socket, batching what is queued, with no framework " +
                        $"(`{WorkerFloorServer.Name}`): the practical limit for a process hop on this machine. " +
                        "The Akka.Remote floor is the same server with its hop over Akka.Remote as it comes (DotNetty, no TLS) to an echo actor, two batches in flight " +
                        $"(`{WorkerFloorServer.OverAkkaRemote}`): the most a server can make of that hop, so its ÷ floor bounds PacketAkka's. " +
                        "The ping-pong is raw Akka.Remote between two processes with as many 64 B messages in flight as the cell has lines, asked from .NET without TCP (Hyperion, the serializer of worker payloads). " +
                        "Every ÷ is the median of the turns' ratios; \"per turn\" gives the lowest and highest.");
        text.AppendLine();
        text.AppendLine("| worker cell | unit | PacketAkka | floor | ÷ floor | ÷ floor per turn | Akka.Remote floor | its ÷ floor | PacketAkka ÷ Akka.Remote floor | Akka.Remote ping-pong | PacketAkka ÷ ping-pong |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var cell in Cell.All.Where(c => c.Servers == Cell.WorkerServers && rows.Any(r => r.Cell == c)))
        {
            var (packet, floor, remote) = (Cell.WorkerServers[0], WorkerFloorServer.Name, WorkerFloorServer.OverAkkaRemote);
            var turns = Of(cell, packet) is { } row && Of(cell, floor) is { } other ? row.TurnRatios(other) : null;
            text.AppendLine($"| {cell.Title} | {cell.Unit} | {Value(cell, packet)} | {Value(cell, floor)} | {Ratio(cell, packet, floor)} | " +
                            $"{(turns is { Length: > 0 } ? $"{turns[0]:0.00}–{turns[^1]:0.00}" : "–")} | {Value(cell, remote)} | {Ratio(cell, remote, floor)} | {Ratio(cell, packet, remote)} | " +
                            $"{Value(cell, AkkaRemotePingPong.Name)} | {Ratio(cell, packet, AkkaRemotePingPong.Name)} |");
        }
        text.AppendLine();
        text.AppendLine($"Per server: the ÷ baseline (raw, or the floor) of a single turn moves with the machine's noise, so \"÷ baseline per turn\" gives the lowest and highest of the {runs} turn{(runs == 1 ? "" : "s")}. " +
                        "Server CPU counts the server and the processes it started (a WorkerHost, a floor's child; for the ping-pong, both of its processes and the asking); " +
                        "the load generator's CPU per message shows how little of the machine it takes.");
        text.AppendLine();
        text.AppendLine("| cell | server | ÷ baseline per turn | p50 µs | p99 µs | p99.9 µs | server CPU µs per message | load generator CPU µs per message | server peak RSS MiB |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var row in rows.Where(r => r.Median.Result.P50 is not null))
        {
            var median = row.Median;
            var turns = row.Server == row.Cell.Baseline || Of(row.Cell, row.Cell.Baseline) is not { } baseline ? null : row.TurnRatios(baseline);
            text.AppendLine($"| {row.Cell.Title} | {row.Server} | {(turns is { Length: > 0 } ? $"{turns[0]:0.00}–{turns[^1]:0.00}" : "–")} | " +
                            $"{Format(median.Result.P50)} | {Format(median.Result.P99)} | {Format(median.Result.P999)} | {median.CpuMicrosPerMessage:0.0} | " +
                            $"{(median.Result.LoadCpuMicrosPerMessage is { } load ? $"{load:0.0}" : "–")} | {median.PeakRssKiB / 1024.0:0} |");
        }
        return text.ToString();
    }

    private static double Median(double[] sorted) => sorted[sorted.Length / 2];

    private static string Format(double? value) => value switch
    {
        null => "–",
        >= 100 => value.Value.ToString("#,0", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("0.0", CultureInfo.InvariantCulture),
    };

    private static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";
}
