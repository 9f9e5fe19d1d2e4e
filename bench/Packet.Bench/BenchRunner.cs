using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Packet.Bench.Load;
using Packet.Bench.Servers;

namespace Packet.Bench;

/// <summary>
/// Runs every cell against every server it names, each server in its own process and each cell's load
/// generator in another, and writes the table of absolute figures and ratios to the raw baseline.
/// </summary>
public static class BenchRunner
{
    /// <summary>One server's median run of a cell.</summary>
    /// <param name="Cell">The cell.</param>
    /// <param name="Server">The server mode.</param>
    /// <param name="Result">The median run's figures.</param>
    /// <param name="CpuMicrosPerMessage">The server's CPU time per message in that run.</param>
    /// <param name="PeakRssKiB">The server's peak resident memory.</param>
    /// <param name="TurnRatios">Each run's value ÷ the raw baseline's run in the same turn, in ascending order; null for raw itself.</param>
    private sealed record Row(Cell Cell, string Server, CellResult Result, double CpuMicrosPerMessage, long PeakRssKiB, double[]? TurnRatios = null)
    {
        /// <summary>The median of <see cref="TurnRatios"/>: this server's ÷ raw.</summary>
        public double? RatioToRaw => TurnRatios is { Length: > 0 } ratios ? ratios[ratios.Length / 2] : null;

        /// <summary>The lowest and highest of <see cref="TurnRatios"/>, which show how far the noise moved ÷ raw.</summary>
        public (double Low, double High)? Turns => TurnRatios is { Length: > 0 } ratios ? (ratios[0], ratios[^1]) : null;
    }

    /// <summary>
    /// Runs everything; each cell <paramref name="runs"/> times, reporting the median run, since the machine
    /// is shared and noisy. The servers of a cell take turns, run by run, so each ratio to the raw baseline
    /// compares runs made minutes apart at most, not a whole bench apart.
    /// </summary>
    public static async Task<int> RunAsync(bool quick, int runs, string resultsFolder)
    {
        var duration = TimeSpan.FromSeconds(quick ? 1 : 5);
        if (quick) runs = 1;
        var eventMachine = EventMachineEchoServer.InstalledVersion;
        if (eventMachine is null) Console.Error.WriteLine("EventMachine is not installed (Debian: apt-get install ruby-eventmachine), so its column stays empty");
        var rows = new List<Row>();
        foreach (var cell in Cell.All)
        {
            var servers = cell.Servers.Where(server => server != EventMachineEchoServer.Name || eventMachine is not null).ToArray();
            var measured = servers.ToDictionary(server => server, _ => new List<Row>());
            async Task TakeTurns(Dictionary<string, (Process Process, int Port)> started)
            {
                foreach (var (server, (process, port)) in started)
                    measured[server].Add(await MeasureAsync(cell, server, process, port, duration, quick));
            }
            if (cell.Id == "idle")
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
            var raw = measured.GetValueOrDefault(Cell.RawServer);
            foreach (var (server, results) in measured)
            {
                var ratios = raw is null || server == Cell.RawServer ? null : results.Zip(raw, (r, b) => r.Result.Value / b.Result.Value).Order().ToArray();
                var median = results.OrderBy(r => r.Result.Value).ElementAt(runs / 2) with { TurnRatios = ratios };
                rows.Add(median);
                Console.Error.WriteLine($"{server,-22} {cell.Title,-42} {Format(median.Result.Value),12} {cell.Unit}   (runs: {string.Join(", ", results.Select(r => Format(r.Result.Value)))})");
            }
        }
        var workerRows = await WorkerRowsAsync(duration, runs);
        foreach (var row in workerRows) Console.Error.WriteLine($"{"workers",-20} {row.Title,-42} {Format(row.Value),12} {row.Unit}");
        var table = Markdown(rows, workerRows, quick, runs, duration, eventMachine);
        Console.WriteLine(table);
        if (!quick)
        {
            Directory.CreateDirectory(resultsFolder);
            await File.WriteAllTextAsync(Path.Combine(resultsFolder, "results.md"), table + "\n![echo cells as ratios to raw](echo-ratios.png)\n");
            var echo = Cell.All.Where(c => c.Servers.SequenceEqual(Cell.EchoServers)).ToArray();
            Row Of(Cell cell, string server) => rows.Single(r => r.Cell == cell && r.Server == server);
            Chart.Ratios(echo.Select(c => c.Title).ToArray(),
                Cell.EchoColumns.Where(c => c.Server != Cell.RawServer && rows.Any(r => r.Server == c.Server))
                    .Select(c => (c.Name,
                        echo.Select(cell => Of(cell, c.Server).RatioToRaw ?? 0).ToArray(),
                        echo.Select(cell => Of(cell, c.Server).Turns ?? (0, 0)).ToArray())).ToArray(),
                Path.Combine(resultsFolder, "echo-ratios.png"));
        }
        return 0;
    }

    /// <summary>Starts every server of a cell, each in its own process, runs <paramref name="measure"/>, and kills them all.</summary>
    private static async Task WithServersAsync(IEnumerable<string> servers, Func<Dictionary<string, (Process Process, int Port)>, Task> measure)
    {
        var processes = new List<Process>();
        try
        {
            var started = new Dictionary<string, (Process Process, int Port)>();
            foreach (var server in servers)
            {
                var process = server == EventMachineEchoServer.Name ? Start(EventMachineEchoServer.StartInfo()) : StartSelf(server, "--port", "0");
                processes.Add(process);
                started[server] = (process, await ListeningPortAsync(process));
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

    /// <summary>How long each server runs a cell, unrecorded, before its measured runs.</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs the cell against each server for <see cref="WarmUp"/> and discards the figures, so the runs
    /// measure servers whose code the JIT has compiled, as in a server that has been up a while. Without
    /// it, a cold server's first run counts: PacketAkka's accept path (actor creation included) ran at
    /// a third of its warm rate in its first 5 s, where raw sockets warm up within a second.
    /// </summary>
    private static async Task WarmUpAsync(Cell cell, Dictionary<string, (Process Process, int Port)> started)
    {
        foreach (var (_, (process, port)) in started) await LoadAsync(cell, port, process.Id, WarmUp, quick: false);
    }

    private static async Task<Row> MeasureAsync(Cell cell, string server, Process process, int port, TimeSpan duration, bool quick)
    {
        var cpuBefore = ProcessStats.CpuSeconds(process.Id);
        CellResult result;
        try
        {
            result = await LoadAsync(cell, port, process.Id, duration, quick);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{server} failed the cell '{cell.Title}': {e.Message}", e);
        }
        var cpu = ProcessStats.CpuSeconds(process.Id) - cpuBefore;
        return new Row(cell, server, result, result.Messages > 0 ? cpu * 1e6 / result.Messages : 0, ProcessStats.PeakRssKiB(process.Id));
    }

    /// <summary>One cell in its own load-generator process; its last output line is the result as JSON.</summary>
    private static async Task<CellResult> LoadAsync(Cell cell, int port, int serverPid, TimeSpan duration, bool quick)
    {
        var arguments = new List<string> { "loadgen", "--cell", cell.Id, "--port", $"{port}", "--server-pid", $"{serverPid}", "--seconds", $"{duration.TotalSeconds}" };
        if (quick) arguments.Add("--quick");
        using var loadgen = StartSelf([.. arguments]);
        var output = await loadgen.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(5));
        await loadgen.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        if (loadgen.ExitCode != 0)
            throw new InvalidOperationException($"the load generator failed on {cell.Id}: {await loadgen.StandardError.ReadToEndAsync()}");
        return JsonSerializer.Deserialize<CellResult>(output.Trim().Split('\n')[^1])!;
    }

    private static async Task<List<WorkerRow>> WorkerRowsAsync(TimeSpan duration, int runs)
    {
        using var cells = StartSelf("worker-cells", "--seconds", $"{duration.TotalSeconds}", "--runs", $"{runs}");
        var output = await cells.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(20));
        await cells.WaitForExitAsync();
        if (cells.ExitCode != 0) throw new InvalidOperationException($"the worker cells failed: {await cells.StandardError.ReadToEndAsync()}");
        return JsonSerializer.Deserialize<List<WorkerRow>>(output.Trim().Split('\n')[^1])!;
    }

    /// <summary>Starts this program in another mode, as its own process, with its standard streams redirected.</summary>
    internal static Process StartSelf(params string[] arguments) =>
        Start(new ProcessStartInfo("dotnet", ["exec", typeof(BenchRunner).Assembly.Location, .. arguments]));

    /// <summary>Starts a process with its standard streams redirected.</summary>
    private static Process Start(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        return Process.Start(info)!;
    }

    private static async Task<int> ListeningPortAsync(Process server)
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

    private static string Markdown(List<Row> rows, List<WorkerRow> workerRows, bool quick, int runs, TimeSpan duration, string? eventMachine)
    {
        var text = new StringBuilder();
        text.AppendLine(quick ? "# PacketAkka benchmark (quick smoke run: figures not comparable)" : "# PacketAkka benchmark");
        text.AppendLine();
        text.AppendLine($"Each figure is the median of {runs} runs of {duration.TotalSeconds:0} s. Machine: {Environment.ProcessorCount} cores, {CpuModel()}, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; " +
                        "servers and load generator on the same machine over 127.0.0.1, each in its own process. " +
                        (quick ? "The servers of a cell take turns run by run, " : $"Each server first runs the cell for {WarmUp.TotalSeconds:0} s, unrecorded, to warm up; then the servers of a cell take turns run by run, ") +
                        "and each ÷ raw is the median of the ratios to the raw baseline's run in the same turn. " +
                        (eventMachine is null
                            ? "EventMachine was not installed, so its column is empty (Debian: apt-get install ruby-eventmachine)."
                            : $"The EventMachine echo ran on {eventMachine}, with epoll."));
        text.AppendLine();
        // Every column but the raw baseline carries its ratio to raw beside it.
        bool Divided((string Server, string Name) column) => column.Server != Cell.RawServer;
        text.AppendLine($"| cell | unit | {string.Join(" | ", Cell.EchoColumns.Select(c => Divided(c) ? $"{c.Name} | ÷ raw" : c.Name))} |");
        text.AppendLine($"|---|---|{string.Concat(Cell.EchoColumns.Select(c => Divided(c) ? "---|---|" : "---|"))}");
        foreach (var cell in Cell.All.Where(c => c.Servers.SequenceEqual(Cell.EchoServers)))
        {
            Row? Of(string server) => rows.FirstOrDefault(r => r.Cell == cell && r.Server == server);
            string Ratio(string server) => Of(server)?.RatioToRaw is { } ratio ? $"{ratio:0.00}×" : "–";
            text.AppendLine($"| {cell.Title} | {cell.Unit} | " +
                            string.Join(" | ", Cell.EchoColumns.Select(c => Divided(c) ? $"{Format(Of(c.Server)?.Result.Value)} | {Ratio(c.Server)}" : Format(Of(c.Server)?.Result.Value))) + " |");
        }
        text.AppendLine();
        text.AppendLine($"The ÷ raw of a single turn moves with the machine's noise; the column \"÷ raw per turn\" gives the lowest and highest of the {runs} turn{(runs == 1 ? "" : "s")}.");
        text.AppendLine();
        text.AppendLine("| cell | server | ÷ raw per turn | p50 µs | p99 µs | p99.9 µs | server CPU µs per message | server peak RSS MiB |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var row in rows.Where(r => r.Result.P50 is not null))
            text.AppendLine($"| {row.Cell.Title} | {row.Server} | {(row.Turns is var (low, high) ? $"{low:0.00}–{high:0.00}" : "–")} | {Format(row.Result.P50)} | {Format(row.Result.P99)} | {Format(row.Result.P999)} | {row.CpuMicrosPerMessage:0.0} | {row.PeakRssKiB / 1024.0:0} |");
        text.AppendLine();
        text.AppendLine("The floor beside each AskWorker cell is a raw Akka.Remote ping-pong between two processes (Hyperion, the serializer of worker payloads) " +
                        "with as many messages in flight; each AskWorker run is followed by a floor run, ÷ floor is the median of those pairs' ratios, and ÷ floor per turn gives the lowest and highest pair.");
        text.AppendLine();
        text.AppendLine("| worker cell | unit | value | p50 µs | p99 µs | floor | ÷ floor | ÷ floor per turn |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var row in rows.Where(r => r.Server == "worker-echo-server"))
            text.AppendLine($"| TCP {row.Cell.Title} | {row.Cell.Unit} | {Format(row.Result.Value)} | {Format(row.Result.P50)} | {Format(row.Result.P99)} | – | – | – |");
        foreach (var row in workerRows)
            text.AppendLine($"| {row.Title} | {row.Unit} | {Format(row.Value)} | {Format(row.P50)} | {Format(row.P99)} | {Format(row.Floor)} | {(row.Ratio is { } r ? $"{r:0.00}×" : "–")} | {(row is { LowestRatio: { } low, HighestRatio: { } high } ? $"{low:0.00}–{high:0.00}" : "–")} |");
        return text.ToString();
    }

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
