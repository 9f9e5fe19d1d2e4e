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
public sealed class LoggingTests
{
    private static Reactor StartLogging(ILoggerFactory factory) => Reactor.Start(
        ConfigurationFactory.ParseString("""
            akka.loglevel = INFO
            akka.stdout-loglevel = ERROR
            packet.reactor.name = test
            packet.workers.types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests"]
            packet.workers.restart.policy = never
            """), factory);

    /// <summary>The first record <paramref name="match"/> takes, once it has come.</summary>
    private static async Task<FakeLogRecord> RecordAsync(FakeLoggerProvider provider, Func<FakeLogRecord, bool> match, string what)
    {
        await Bounded.Until(() => provider.Collector.GetSnapshot().Any(match), what);
        return provider.Collector.GetSnapshot().First(match);
    }

    [Fact]
    public async Task Killing_a_WorkerHost_gives_a_warning_record_with_the_worker_and_its_exit_code_as_fields()
    {
        using var provider = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(provider));
        await using var reactor = StartLogging(factory);
        var pid = (await Hosts.RunningAsync(reactor, "echo_worker"))!.Value;

        using (var host = Process.GetProcessById(pid)) host.Kill();

        var exited = await RecordAsync(provider, r => r.Message.Contains("exited with code"), "the exit's warning");
        Assert.Equal(LogLevel.Warning, exited.Level);
        Assert.Equal("Packet.Actors.Workers.ProxyActor", exited.Category);
        Assert.Equal("echo_worker", exited.GetStructuredStateValue("Worker"));
        Assert.Equal("137", exited.GetStructuredStateValue("ExitCode")); // 128 + SIGKILL
        Assert.Equal($"{pid}", exited.GetStructuredStateValue("HostPid"));
        Assert.Equal("worker {Worker} (host {HostPid}) exited with code {ExitCode}; the asks it held fail", exited.GetStructuredStateValue("{OriginalFormat}"));
        Assert.Contains("/user/workers/", exited.GetStructuredStateValue("ActorPath"));
        Assert.Equal($"worker echo_worker (host {pid}) exited with code 137; the asks it held fail", exited.Message);

        // The actor system's log filters hold here too: the worker link's info lines are left out.
        Assert.DoesNotContain(provider.Collector.GetSnapshot(), r => r.Message.StartsWith("Starting remoting", StringComparison.Ordinal));

        // Every record of PacketAkka's own names its fields: no positional {0} reaches a structured sink.
        var ours = provider.Collector.GetSnapshot().Where(r => r.Category?.StartsWith("Packet.", StringComparison.Ordinal) == true).ToArray();
        Assert.Contains(ours, r => r.Level == LogLevel.Information && r.Message == $"worker echo_worker is up (host {pid})");
        Assert.All(ours, r => Assert.DoesNotMatch(new Regex(@"\{\d+\}"), r.GetStructuredStateValue("{OriginalFormat}") ?? ""));
    }

    [Fact]
    public async Task A_WorkerHost_warning_is_a_warning_record_in_a_scope_that_names_the_worker_and_its_process()
    {
        using var provider = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(provider));
        await using var reactor = StartLogging(factory);
        var pid = (await Hosts.RunningAsync(reactor, "echo_worker"))!.Value;

        await Assert.ThrowsAsync<WorkerException>(() => reactor.AskWorkerAsync("echo_worker", "throw"));

        var line = await RecordAsync(provider, r => r.Message.Contains("ReceiveData threw"), "the host's warning");
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Equal("Packet.WorkerHost", line.Category);
        Assert.Equal("echo_worker", line.GetStructuredStateValue("Worker"));
        var scope = Assert.IsAssignableFrom<IEnumerable<KeyValuePair<string, object?>>>(Assert.Single(line.Scopes)).ToDictionary();
        Assert.Equal("echo_worker", scope["Worker"]);
        Assert.Equal(pid, scope["HostPid"]);
    }
}
