using System.Diagnostics;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Packet.Actors;
using Packet.Tests.Support;
using Packet.Tests.Workers;
using Xunit;

namespace Packet.Tests.Hosting;

/// <summary>A reactor that logs to an <see cref="ILoggerFactory"/>, read as a structured sink would: records with named fields.</summary>
public sealed class LoggingTests : IAsyncLifetime
{
    private readonly FakeLoggerProvider _provider = new();
    private ILoggerFactory _factory = null!;
    private Reactor _reactor = null!;
    private int _pid; // echo_worker's WorkerHost

    public async Task InitializeAsync()
    {
        _factory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(_provider));
        _reactor = Reactor.Start(ConfigurationFactory.ParseString("""
            akka.loglevel = INFO
            akka.stdout-loglevel = ERROR
            packet.reactor.name = test
            packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]
            packet.workers.restart.policy = never
            """), _factory);
        _pid = (await Hosts.RunningAsync(_reactor, "echo_worker"))!.Value;
    }

    public async Task DisposeAsync()
    {
        await _reactor.StopAsync();
        _factory.Dispose();
        _provider.Dispose();
    }

    /// <summary>The first record <paramref name="match"/> takes, once it has come.</summary>
    private async Task<FakeLogRecord> RecordAsync(Func<FakeLogRecord, bool> match, string what)
    {
        await Bounded.Until(() => _provider.Collector.GetSnapshot().Any(match), what);
        return _provider.Collector.GetSnapshot().First(match);
    }

    [Fact]
    public async Task Killing_a_WorkerHost_gives_a_warning_record_with_the_worker_and_its_exit_code_as_fields()
    {
        using (var host = Process.GetProcessById(_pid)) host.Kill();

        var exited = await RecordAsync(r => r.Message.Contains("exited with code"), "the exit's warning");
        Assert.Equal(LogLevel.Warning, exited.Level);
        Assert.Equal("Packet.Actors.Workers.ProxyActor", exited.Category);
        Assert.Equal("echo_worker", exited.GetStructuredStateValue("Worker"));
        Assert.Equal("137", exited.GetStructuredStateValue("ExitCode")); // 128 + SIGKILL
        Assert.Equal($"{_pid}", exited.GetStructuredStateValue("HostPid"));
        Assert.Equal("worker {Worker} (host {HostPid}) exited with code {ExitCode}; the asks it held fail", exited.GetStructuredStateValue("{OriginalFormat}"));
        Assert.Contains("/user/workers/", exited.GetStructuredStateValue("ActorPath"));
        Assert.Equal($"worker echo_worker (host {_pid}) exited with code 137; the asks it held fail", exited.Message);

        // The actor system's log filters hold here too: the worker link's info lines are left out.
        Assert.DoesNotContain(_provider.Collector.GetSnapshot(), r => r.Message.StartsWith("Starting remoting", StringComparison.Ordinal));

        // Every record of PacketAkka's own names its fields: no positional {0} reaches a structured sink.
        var ours = _provider.Collector.GetSnapshot().Where(r => r.Category?.StartsWith("Packet.", StringComparison.Ordinal) == true).ToArray();
        Assert.Contains(ours, r => r.Level == LogLevel.Information && r.Message == $"worker echo_worker is up (host {_pid})");
        Assert.All(ours, r => Assert.DoesNotMatch(new Regex(@"\{\d+\}"), r.GetStructuredStateValue("{OriginalFormat}") ?? ""));
    }

    [Fact]
    public async Task A_WorkerHost_warning_is_a_warning_record_in_a_scope_that_names_the_worker_and_its_process()
    {
        await Assert.ThrowsAsync<WorkerException>(() => _reactor.AskWorkerAsync("echo_worker", "throw"));

        var line = await RecordAsync(r => r.Message.Contains("ReceiveData threw"), "the host's warning");
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal("Packet.WorkerHost", line.Category);
        Assert.Equal("echo_worker", line.GetStructuredStateValue("Worker"));
        var scope = Assert.IsAssignableFrom<IEnumerable<KeyValuePair<string, object?>>>(Assert.Single(line.Scopes)).ToDictionary();
        Assert.Equal("echo_worker", scope["Worker"]);
        Assert.Equal(_pid, scope["HostPid"]);
    }
}
