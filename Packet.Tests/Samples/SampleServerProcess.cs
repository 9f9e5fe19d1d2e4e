using System.Diagnostics;
using System.Net;
using System.Text;
using Packet.Tests.Configuration;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>A sample server (EchoServer, RedisServer...) running in its own process under an open-file limit, killed when disposed.</summary>
internal sealed class SampleServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _hardLimit;

    private readonly string _sample;

    private SampleServerProcess(string sample, int openFileLimit, IReadOnlyDictionary<string, string> environment, string[] arguments)
    {
        _sample = sample;
        _hardLimit = openFileLimit;
        _process = new Process
        {
            StartInfo = new ProcessStartInfo("prlimit", [$"--nofile={openFileLimit}:{openFileLimit}", "dotnet", "exec", ConfigurationTests.SampleDll(sample), "--port", "0", .. arguments])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            },
        };
        foreach (var (name, value) in environment) _process.StartInfo.Environment[name] = value;
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
    }

    /// <summary>Everything the server has written, standard output and error interleaved.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The server's process id: prlimit execs dotnet, so the process started is the server itself.</summary>
    public int Id => _process.Id;

    public IPEndPoint EndPoint => new(IPAddress.Loopback, _port.Task.Result);

    /// <summary>Starts the sample with <c>--port 0</c> and <paramref name="arguments"/>, and waits until it listens.</summary>
    public static Task<SampleServerProcess> StartAsync(int openFileLimit, params string[] arguments) =>
        StartAsync(openFileLimit, new Dictionary<string, string>(), arguments);

    /// <summary>As <see cref="StartAsync(int, string[])"/>, with these variables added to the server's environment.</summary>
    public static Task<SampleServerProcess> StartAsync(int openFileLimit, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartAsync("EchoServer", openFileLimit, environment, arguments);

    /// <summary>Starts another sample server the same way: <c>--port 0</c> and <paramref name="arguments"/>, waiting until it listens.</summary>
    public static Task<SampleServerProcess> StartSampleAsync(string sample, params string[] arguments) =>
        StartAsync(sample, 4096, new Dictionary<string, string>(), arguments);

    private static async Task<SampleServerProcess> StartAsync(string sample, int openFileLimit, IReadOnlyDictionary<string, string> environment, string[] arguments)
    {
        var server = new SampleServerProcess(sample, openFileLimit, environment, arguments);
        try
        {
            server._process.Start();
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            await Task.WhenAny(server._port.Task, server._process.WaitForExitAsync()).Within($"{sample} to listen", TimeSpan.FromSeconds(60));
            Assert.True(server._port.Task.IsCompleted, $"{sample} ended without listening:\n{server.Output}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>True when the process ended (within 10 s) with the runtime's own abort for want of a thread.</summary>
    public bool DiedOutOfMemory()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) return false;
        _process.WaitForExit(); // it has exited: this waits only for the end of its output
        return Output.Contains("Out of memory.");
    }

    /// <summary>Sets the running server's soft limit on open files (at most the limit it started with), as <c>ulimit -n</c> would have.</summary>
    public void LimitOpenFiles(int soft)
    {
        using var prlimit = Process.Start(new ProcessStartInfo("prlimit", ["--pid", $"{_process.Id}", $"--nofile={soft}:{_hardLimit}"]) { RedirectStandardError = true })!;
        var error = prlimit.StandardError.ReadToEnd();
        Assert.True(prlimit.WaitForExit(TimeSpan.FromSeconds(30)) && prlimit.ExitCode == 0, $"prlimit failed: {error}");
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.StartsWith("listening on ", StringComparison.Ordinal)) _port.TrySetResult(int.Parse(line[(line.LastIndexOf(':') + 1)..]));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // it never started
        }
        await _process.WaitForExitAsync().Within($"{_sample} to exit");
        _process.Dispose();
    }
}
