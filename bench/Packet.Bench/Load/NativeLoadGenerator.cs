using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace Packet.Bench.Load;

/// <summary>What one cell measured. Latencies are per message round trip, in microseconds.</summary>
/// <param name="Value">The cell's figure, in its unit.</param>
/// <param name="Messages">Every message (or connection) the run completed, warm-up included: the divisor of CPU per message.</param>
/// <param name="P50">The median latency.</param>
/// <param name="P99">The 99th percentile.</param>
/// <param name="P999">The 99.9th percentile.</param>
/// <param name="LoadCpuMicrosPerMessage">The load generator's own CPU time per message.</param>
public sealed record CellResult(double Value, long Messages, double? P50, double? P99, double? P999, double? LoadCpuMicrosPerMessage);

/// <summary>
/// The bench's load generator, <c>bench/loadgen/loadgen.c</c>: single-threaded C on epoll, built with the
/// system's C compiler on first use (and again when the source is newer than the build). On two cores a
/// client that spends more CPU per message than the server sets the figure for every server it drives;
/// bench/README.md shows how far below the servers' cost this one stays.
/// </summary>
public static class NativeLoadGenerator
{
    private static readonly SemaphoreSlim Building = new(1, 1);

    /// <summary>The built program, compiled first when it is missing or older than its source.</summary>
    public static async Task<string> BuildAsync()
    {
        var folder = Path.Combine(BenchRunner.RepositoryRoot(), "bench", "loadgen");
        var source = Path.Combine(folder, "loadgen.c");
        var binary = Path.Combine(folder, "bin", "loadgen");
        await Building.WaitAsync();
        try
        {
            if (File.Exists(binary) && File.GetLastWriteTimeUtc(binary) >= File.GetLastWriteTimeUtc(source)) return binary;
            Directory.CreateDirectory(Path.GetDirectoryName(binary)!);
            var compiler = Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc : "cc";
            var building = $"{binary}.{Environment.ProcessId}"; // renamed into place, so a bench beside this one never runs half a file
            Process build;
            try
            {
                build = Process.Start(new ProcessStartInfo(compiler, ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-o", building, source, "-lssl", "-lcrypto"]) { RedirectStandardError = true })!;
            }
            catch (Win32Exception)
            {
                throw new InvalidOperationException(
                    $"the bench's load generator is C ({source}) and no C compiler was found as '{compiler}' (set CC to name another); on Debian: apt-get install gcc");
            }
            using (build)
            {
                var errors = await build.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(2));
                await build.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
                if (build.ExitCode != 0) throw new InvalidOperationException($"{compiler} could not build {source} (its TLS mode needs OpenSSL's headers; on Debian: apt-get install libssl-dev):\n{errors}");
            }
            File.Move(building, binary, overwrite: true);
            return binary;
        }
        finally
        {
            Building.Release();
        }
    }

    /// <summary>
    /// Runs one mode (<c>echo</c> or <c>connect</c>) to its end and returns its JSON line. A run that
    /// reports errors fails with that line, which names them.
    /// </summary>
    public static async Task<JsonElement> RunAsync(IEnumerable<string> arguments, TimeSpan limit)
    {
        using var run = Start(await BuildAsync(), arguments);
        var output = run.StandardOutput.ReadToEndAsync();
        var errors = run.StandardError.ReadToEndAsync();
        try
        {
            await run.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            run.Kill();
            throw new TimeoutException($"the load generator ran past {limit.TotalSeconds:0} s: loadgen {string.Join(' ', arguments)}");
        }
        return Result(run, await output, await errors, arguments);
    }

    /// <summary>
    /// Opens <paramref name="connections"/> idle connections to the server on <paramref name="port"/>, each
    /// echoing one byte, and returns the growth of the server's resident memory per connection, in KiB,
    /// read <paramref name="settle"/> after the last one was up; then releases them and checks each echoes again.
    /// <paramref name="options"/> go to every <c>hold</c> run (<c>--tls</c>).
    /// </summary>
    public static async Task<double> IdleKiBPerConnectionAsync(int port, int serverPid, int connections, TimeSpan settle, string[] options)
    {
        var binary = await BuildAsync();
        // A first batch, opened and closed again, warms the server up (JIT, pools) before the baseline.
        await RunAsync(["hold", "--port", $"{port}", "--conns", "100", "--seconds", "0.01", .. options], TimeSpan.FromMinutes(1));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = ProcessStats.RssKiB(serverPid);
        string[] arguments = ["hold", "--port", $"{port}", "--conns", $"{connections}", "--seconds", "120", "--release-on-eof", .. options];
        using var hold = Start(binary, arguments);
        var errors = hold.StandardError.ReadToEndAsync();
        try
        {
            var held = await hold.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
            if (held is null || JsonDocument.Parse(held).RootElement.GetProperty("held").GetInt32() != connections)
                throw new InvalidOperationException($"the server did not take {connections} idle connections: {held ?? "no output"} {await errors}");
            await Task.Delay(settle);
            var after = ProcessStats.RssKiB(serverPid);
            hold.StandardInput.Close();
            var output = await hold.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(1));
            await hold.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
            Result(hold, output, await errors, arguments);
            return (after - before) / (double)connections;
        }
        finally
        {
            if (!hold.HasExited) hold.Kill();
        }
    }

    private static Process Start(string binary, IEnumerable<string> arguments) =>
        Process.Start(new ProcessStartInfo(binary, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;

    private static JsonElement Result(Process run, string output, string errors, IEnumerable<string> arguments)
    {
        var line = output.Trim().Split('\n')[^1];
        if (run.ExitCode != 0 || !line.StartsWith('{'))
            throw new InvalidOperationException($"loadgen {string.Join(' ', arguments)} failed (exit code {run.ExitCode}): {line} {errors.Trim()}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }
}
