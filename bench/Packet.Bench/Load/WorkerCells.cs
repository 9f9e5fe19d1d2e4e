using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Bench.Servers;

namespace Packet.Bench.Load;

/// <summary>
/// One worker measurement: asks per second (or MB/s) and round-trip percentiles in microseconds, beside
/// the raw Akka.Remote ping-pong with as many messages in flight, measured in turns with it.
/// </summary>
/// <param name="Title">What was measured.</param>
/// <param name="Unit">The unit of <paramref name="Value"/> and <paramref name="Floor"/>.</param>
/// <param name="Value">The median run's rate.</param>
/// <param name="P50">The median run's median round trip, in microseconds.</param>
/// <param name="P99">The median run's 99th-percentile round trip, in microseconds.</param>
/// <param name="Floor">The ping-pong's median rate, in the same unit.</param>
/// <param name="Ratio">The median over runs of this run's value ÷ the ping-pong run right after it.</param>
/// <param name="LowestRatio">The lowest of those per-run ratios.</param>
/// <param name="HighestRatio">The highest of those per-run ratios.</param>
public sealed record WorkerRow(string Title, string Unit, double Value, double? P50, double? P99, double? Floor = null, double? Ratio = null,
    double? LowestRatio = null, double? HighestRatio = null);

/// <summary>
/// The worker cells: AskWorker round trips through a real WorkerHost, each run followed by a run of
/// the floor, a raw Akka.Remote ping-pong between two processes with as many messages in flight and
/// Hyperion, the serializer worker payloads use. Taking turns keeps a noisy machine's drift out of
/// the ratio.
/// </summary>
public static class WorkerCells
{
    public static async Task<List<WorkerRow>> RunAsync(TimeSpan duration, int runs)
    {
        var rows = new List<WorkerRow>();
        await using var reactor = Reactor.Start(WorkerEchoServer.Config);
        await reactor.StartWorkerAsync<EchoWorker>();
        await reactor.AskWorkerAsync("bench_echo", "warm up");
        using var pong = Process.Start(new ProcessStartInfo("dotnet", ["exec", typeof(WorkerCells).Assembly.Location, "pong-server"])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            var address = (await pong.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!["listening on ".Length..];
            using var ping = ActorSystem.Create("ping", RemoteConfig);
            var target = await ping.ActorSelection($"{address}/user/pong").ResolveOne(TimeSpan.FromSeconds(10));
            await target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10));
            foreach (var (askers, window) in new[] { (1, 1), (10, 1), (50, 1), (1, 16), (10, 16), (50, 16) })
            {
                rows.Add(await InTurnsAsync($"AskWorker, {askers} askers, {window} in flight each", "asks/s", 1, askers * window, runs, duration,
                    () => reactor.AskWorkerAsync("bench_echo", Payload64), () => target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10))));
            }
            var mib = new byte[1024 * 1024];
            rows.Add(await InTurnsAsync("AskWorker, 1 MiB payloads, one in flight", "MB/s", 2.0 * mib.Length / 1e6, 1, runs, duration,
                () => reactor.AskWorkerAsync("bench_echo", mib), () => target.Ask<byte[]>(mib, TimeSpan.FromSeconds(10))));
            await ping.Terminate();
        }
        finally
        {
            pong.Kill();
        }
        return rows;
    }

    private const string Payload64 = "0123456789012345678901234567890123456789012345678901234567890123";

    /// <summary>Runs the ask and then the floor, <paramref name="runs"/> times, and reports the medians.</summary>
    private static async Task<WorkerRow> InTurnsAsync(string title, string unit, double unitsPerRoundTrip, int parallel, int runs, TimeSpan duration,
        Func<Task> ask, Func<Task> floor)
    {
        var asks = new List<Measurement>();
        var floors = new List<Measurement>();
        for (var run = 0; run < runs; run++)
        {
            asks.Add(await MeasureAsync(parallel, duration, ask));
            floors.Add(await MeasureAsync(parallel, duration, floor));
        }
        var median = asks.OrderBy(m => m.Rate).ElementAt(runs / 2);
        var ratios = asks.Zip(floors, (a, f) => a.Rate / f.Rate).Order().ToArray();
        return new WorkerRow(title, unit, median.Rate * unitsPerRoundTrip, median.P50, median.P99, floors.Select(f => f.Rate).Order().ElementAt(runs / 2) * unitsPerRoundTrip,
            ratios[runs / 2], ratios[0], ratios[^1]);
    }

    private sealed record Measurement(double Rate, double? P50, double? P99);

    /// <summary>Runs <paramref name="parallel"/> loops of <paramref name="roundTrip"/> for <paramref name="duration"/>.</summary>
    private static async Task<Measurement> MeasureAsync(int parallel, TimeSpan duration, Func<Task> roundTrip)
    {
        var clock = Stopwatch.StartNew();
        var samples = await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<double>();
            while (clock.Elapsed < duration)
            {
                var start = Stopwatch.GetTimestamp();
                await roundTrip();
                latencies.Add((Stopwatch.GetTimestamp() - start) * 1e6 / Stopwatch.Frequency);
            }
            return latencies;
        })));
        var all = samples.SelectMany(s => s).Order().ToArray();
        return new Measurement(all.Length / clock.Elapsed.TotalSeconds, all.Length == 0 ? null : all[all.Length / 2], all.Length == 0 ? null : all[(int)(all.Length * 0.99)]);
    }

    // ---- the floor: raw Akka.Remote ping-pong -------------------------------------------------

    /// <summary>
    /// Akka.Remote as it comes, on the worker link's socket settings but without its guards (TLS, the
    /// serializer lock): what the worker cells lose to the floor includes what those guards cost.
    /// </summary>
    public static readonly Config RemoteConfig = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          actor.provider = remote
          remote.dot-netty.tcp {
            hostname = "127.0.0.1"
            port = 0
            maximum-frame-size = 24 MiB
            send-buffer-size = 4 MiB
            receive-buffer-size = 4 MiB
          }
        }
        """);

    /// <summary>The other process of the ping-pong: an actor that answers every message with itself.</summary>
    public static async Task PongServerAsync()
    {
        using var system = ActorSystem.Create("pong", RemoteConfig);
        system.ActorOf(Props.Create(() => new Pong()), "pong");
        Console.WriteLine($"listening on {((ExtendedActorSystem)system).Provider.DefaultAddress}");
        await Task.Delay(Timeout.Infinite);
    }

    private sealed class Pong : ReceiveActor
    {
        public Pong() => ReceiveAny(message => Sender.Tell(message));
    }
}
