using System.Diagnostics;
using System.Text;

namespace Packet.Tests.Support;

/// <summary>
/// Runs a program to its end and keeps what it printed: the real clients the tests drive servers with
/// (<c>redis-cli</c>, <c>redis-benchmark</c>, <c>python3</c>) and the samples' command lines.
/// </summary>
public static class ClientProcess
{
    /// <summary>What a program that ended left: its exit code, its standard output as bytes, and its standard error.</summary>
    public sealed record Result(int ExitCode, byte[] Output, string Errors)
    {
        /// <summary>Standard output as UTF-8 text.</summary>
        public string Text => Encoding.UTF8.GetString(Output);
    }

    /// <summary>
    /// Starts <paramref name="file"/> with <paramref name="arguments"/>, writes <paramref name="input"/> (if any) to its
    /// standard input and closes it, and waits at most <paramref name="limit"/> for it to end; a program still running
    /// then is killed with its children and the wait fails with a <see cref="TimeoutException"/>.
    /// </summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, TimeSpan limit, byte[]? input = null)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var output = new MemoryStream();
            var reading = process.StandardOutput.BaseStream.CopyToAsync(output);
            var errors = process.StandardError.ReadToEndAsync();
            if (input is not null) await process.StandardInput.BaseStream.WriteAsync(input);
            process.StandardInput.Close();
            var what = $"`{file} {string.Join(' ', arguments)}` to end";
            await Task.WhenAll(reading, errors, process.WaitForExitAsync()).Within(what, limit);
            return new Result(process.ExitCode, output.ToArray(), await errors);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
