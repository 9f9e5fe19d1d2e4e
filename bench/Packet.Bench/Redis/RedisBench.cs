using System.Diagnostics;
using System.Globalization;
using System.Text;
using Packet.Bench.Load;

namespace Packet.Bench.Redis;

/// <summary>
/// The RedisServer sample against <c>redis-server</c> itself, both driven by Redis' own <c>redis-benchmark</c> (SET and GET,
/// 50 connections, 16 requests pipelined on each), taking turns run by run; each ratio is the median of the turns' ratios.
/// </summary>
public static class RedisBench
{
    public const string Mode = "redis";

    private sealed record Run(double Set, double Get, double CpuMicrosPerRequest);

    public static async Task<int> RunAsync(bool quick, int turns, string? resultsFile)
    {
        if (quick) turns = 1;
        var requests = quick ? 20_000 : 2_000_000;
        foreach (var tool in new[] { "redis-server", "redis-benchmark" })
            if (!OnPath(tool))
            {
                Console.Error.WriteLine($"Packet.Bench: {tool} is not installed (Debian: apt-get install redis-server redis-tools)");
                return 1;
            }
        var sample = Path.Combine(BenchRunner.RepositoryRoot(), "samples", "RedisServer", "bin", "Release", "net10.0", "RedisServer.dll");
        if (!File.Exists(sample))
        {
            Console.Error.WriteLine($"Packet.Bench: build the sample first (dotnet build -c Release samples/RedisServer): {sample} is missing");
            return 1;
        }
        var redisPort = Loopback.FreePort();
        var servers = new (string Name, ProcessStartInfo Start, int Port)[]
        {
            ("redis-server", new ProcessStartInfo("redis-server", ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]), redisPort),
            ("PacketAkka RedisServer", new ProcessStartInfo("dotnet", ["exec", sample, "--port", "0", "--transport", "sockets"]), 0),
        };
        var started = new List<(string Name, Process Process, int Port)>();
        try
        {
            foreach (var (name, start, port) in servers)
            {
                start.RedirectStandardOutput = true;
                start.RedirectStandardError = true;
                var process = Process.Start(start)!;
                started.Add((name, process, port == 0 ? await BenchRunner.ListeningPortAsync(process) : await ReadyAsync(process, port)));
            }
            // Warm-up, unrecorded: the JIT compiles PacketAkka's paths, as in a server that has been up a while.
            if (!quick) foreach (var (_, _, port) in started) await BenchmarkAsync(port, 500_000);
            var runs = started.ToDictionary(s => s.Name, _ => new List<Run>());
            for (var turn = 0; turn < turns; turn++)
                foreach (var (name, process, port) in started)
                {
                    var cpuBefore = ProcessStats.TreeCpuSeconds(process.Id);
                    var (set, get) = await BenchmarkAsync(port, requests);
                    var cpu = ProcessStats.TreeCpuSeconds(process.Id) - cpuBefore;
                    runs[name].Add(new Run(set, get, cpu * 1e6 / (2.0 * requests)));
                    Console.Error.WriteLine($"{name,-24} SET {set,12:#,0}  GET {get,12:#,0} requests/s  {cpu * 1e6 / (2.0 * requests):0.00} µs CPU per request");
                }
            var table = Markdown(runs, turns, requests, quick);
            Console.WriteLine(table);
            if (!quick && resultsFile is not null) await File.WriteAllTextAsync(resultsFile, table);
            return 0;
        }
        finally
        {
            foreach (var (_, process, _) in started)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                process.Dispose();
            }
        }
    }

    /// <summary>One redis-benchmark run of SET then GET: each one's requests per second.</summary>
    private static async Task<(double Set, double Get)> BenchmarkAsync(int port, int requests)
    {
        using var benchmark = Process.Start(new ProcessStartInfo("redis-benchmark",
            ["-h", "127.0.0.1", "-p", $"{port}", "-t", "set,get", "-n", $"{requests}", "-c", "50", "-P", "16", "--csv"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var error = benchmark.StandardError.ReadToEndAsync();
        var output = await benchmark.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(5));
        await benchmark.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        if (benchmark.ExitCode != 0) throw new InvalidOperationException($"redis-benchmark failed: {output}{await error}");
        // --csv: "test","rps",...; one line per test.
        double Rate(string test) => output.Split('\n').Select(l => l.Split(',')).Where(f => f.Length > 1 && f[0].Trim('"') == test)
            .Select(f => double.Parse(f[1].Trim('"'), CultureInfo.InvariantCulture)).DefaultIfEmpty(double.NaN).First();
        var (set, get) = (Rate("SET"), Rate("GET"));
        return double.IsNaN(set) || double.IsNaN(get) ? throw new InvalidOperationException($"redis-benchmark gave no SET or GET rate: {output}") : (set, get);
    }

    private static string Markdown(Dictionary<string, List<Run>> runs, int turns, int requests, bool quick)
    {
        var (redis, packet) = (runs["redis-server"], runs["PacketAkka RedisServer"]);
        static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
        var setRatios = packet.Zip(redis, (p, r) => p.Set / r.Set).Order().ToArray();
        var getRatios = packet.Zip(redis, (p, r) => p.Get / r.Get).Order().ToArray();
        var text = new StringBuilder();
        text.AppendLine(quick ? "# RedisServer against redis-server (quick smoke run: figures not comparable)" : "# RedisServer against redis-server");
        text.AppendLine();
        text.AppendLine($"`redis-benchmark -t set,get -n {requests:#,0} -c 50 -P 16`, the two servers taking {turns} turns; each figure is the median of the turns, " +
                        "each ratio the median of the turns' ratios (lowest and highest beside it). " +
                        $"Machine: {Environment.ProcessorCount} cores; the servers and redis-benchmark share them. The sample runs on the sockets transport, as it ships.");
        text.AppendLine();
        text.AppendLine("| | SET requests/s | GET requests/s | server CPU µs per request |");
        text.AppendLine("|---|---|---|---|");
        foreach (var (name, list) in runs)
            text.AppendLine($"| {name} | {Median(list.Select(r => r.Set)):#,0} | {Median(list.Select(r => r.Get)):#,0} | {Median(list.Select(r => r.CpuMicrosPerRequest)):0.00} |");
        text.AppendLine($"| RedisServer ÷ redis-server | {setRatios[setRatios.Length / 2]:0.00}× ({setRatios[0]:0.00}–{setRatios[^1]:0.00}) | " +
                        $"{getRatios[getRatios.Length / 2]:0.00}× ({getRatios[0]:0.00}–{getRatios[^1]:0.00}) | |");
        return text.ToString();
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(folder => File.Exists(Path.Combine(folder, program)));

    /// <summary>Waits until redis-server answers on <paramref name="port"/>.</summary>
    private static async Task<int> ReadyAsync(Process server, int port)
    {
        _ = server.StandardOutput.ReadToEndAsync();
        _ = server.StandardError.ReadToEndAsync();
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); DateTime.UtcNow < deadline;)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                if (server.HasExited) break;
                await Task.Delay(100);
            }
        }
        throw new InvalidOperationException("redis-server did not start listening");
    }
}
