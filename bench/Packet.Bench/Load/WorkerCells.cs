using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Bench.Servers;

namespace Packet.Bench.Load;

/// <summary>One worker measurement: asks per second (or MB/s) and round-trip percentiles in microseconds.</summary>
public sealed record WorkerRow(string Title, string Unit, double Value, double? P50, double? P99);

/// <summary>
/// The worker cells: AskWorker round trips through a real WorkerHost, and beside them the floor, a raw
/// Akka.Remote ping-pong between two processes with the same serializer (Hyperion).
/// </summary>
public static class WorkerCells
{
    public static async Task<List<WorkerRow>> RunAsync(TimeSpan duration)
    {
        var rows = new List<WorkerRow>();
        await using (var reactor = Reactor.Start(WorkerEchoServer.Config))
        {
            await reactor.StartWorkerAsync<EchoWorker>();
            await reactor.AskWorkerAsync("bench_echo", "warm up");
            foreach (var (askers, window) in new[] { (1, 1), (10, 1), (50, 1), (1, 16), (10, 16), (50, 16) })
            {
                var (rate, p50, p99) = await MeasureAsync(askers * window, duration, () => reactor.AskWorkerAsync("bench_echo", Payload64));
                rows.Add(new WorkerRow($"AskWorker, {askers} askers, {window} in flight each", "asks/s", rate, p50, p99));
            }
            var mib = new byte[1024 * 1024];
            var (mibRate, _, _) = await MeasureAsync(1, duration, () => reactor.AskWorkerAsync("bench_echo", mib));
            rows.Add(new WorkerRow("AskWorker, 1 MiB payloads, one in flight", "MB/s", mibRate * 2 * mib.Length / 1e6, null, null));
        }
        rows.AddRange(await PingPongAsync(duration));
        return rows;
    }

    private const string Payload64 = "0123456789012345678901234567890123456789012345678901234567890123";

    /// <summary>Runs <paramref name="parallel"/> loops of <paramref name="roundTrip"/> for <paramref name="duration"/>.</summary>
    private static async Task<(double Rate, double? P50, double? P99)> MeasureAsync(int parallel, TimeSpan duration, Func<Task> roundTrip)
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
        return (all.Length / clock.Elapsed.TotalSeconds, all.Length == 0 ? null : all[all.Length / 2], all.Length == 0 ? null : all[(int)(all.Length * 0.99)]);
    }

    // ---- the floor: raw Akka.Remote ping-pong -------------------------------------------------

    public static readonly Config RemoteConfig = ConfigurationFactory.ParseString("akka.loglevel = WARNING")
        .WithFallback(Reactor.DefaultConfig.GetConfig("packet.workers.remote-config"));

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

    private static async Task<List<WorkerRow>> PingPongAsync(TimeSpan duration)
    {
        var rows = new List<WorkerRow>();
        using var pong = Process.Start(new ProcessStartInfo("dotnet", ["exec", typeof(WorkerCells).Assembly.Location, "pong-server"])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            var address = (await pong.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!["listening on ".Length..];
            using var system = ActorSystem.Create("ping", RemoteConfig);
            var target = await system.ActorSelection($"{address}/user/pong").ResolveOne(TimeSpan.FromSeconds(10));
            await target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10));
            foreach (var pairs in new[] { 1, 50 })
            {
                var (rate, p50, p99) = await MeasureAsync(pairs, duration, () => target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10)));
                rows.Add(new WorkerRow($"raw Akka.Remote ping-pong (Hyperion), {pairs} in flight", "round trips/s", rate, p50, p99));
            }
            await system.Terminate();
        }
        finally
        {
            pong.Kill();
        }
        return rows;
    }
}
