using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;

namespace Packet.Bench.Load;

/// <summary>
/// The worker cells' second floor: a raw Akka.Remote ping-pong between two processes, with as many
/// messages in flight as the cell has lines, and Hyperion, the serializer worker payloads use. It has
/// no TCP client: the driver (this program in <c>ping-pong</c> mode) asks the pong process itself, so
/// it measures what Akka.Remote alone costs a round trip, beside the Unix-socket floor that measures a
/// bare process hop.
/// </summary>
public static class AkkaRemotePingPong
{
    /// <summary>Its name among the worker cells' servers.</summary>
    public const string Name = "akka-remote-ping-pong";

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

    /// <summary>
    /// An actor system on <see cref="RemoteConfig"/>; with <paramref name="tls"/>, its link runs TLS with
    /// mutual authentication, as the worker link does, on a throwaway self-signed certificate whose peer
    /// is not checked: what the encryption costs, not the trust.
    /// </summary>
    public static ActorSystem CreateSystem(string name, bool tls)
    {
        if (!tls) return ActorSystem.Create(name, RemoteConfig);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var made = new CertificateRequest("CN=Packet.Bench", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certificate = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), password: null); // a fresh certificate cannot serve TLS on every platform
        var config = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = on").WithFallback(RemoteConfig);
        return ActorSystem.Create(name, ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config),
            new DotNettySslSetup(certificate, suppressValidation: true, requireMutualAuthentication: true)));
    }

    /// <summary>
    /// The driver: starts the pong process, prints <c>ready</c>, then for each line <c>PARALLEL SECONDS</c>
    /// on its standard input runs that many ask loops for that long and prints a <see cref="CellResult"/>
    /// as JSON. It ends, and the pong process with it, when its standard input closes.
    /// </summary>
    public static async Task DriveAsync()
    {
        using var pong = Process.Start(new ProcessStartInfo("dotnet", ["exec", typeof(AkkaRemotePingPong).Assembly.Location, "pong-server"])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true, // it ends when this process ends, and with it this pipe
        })!;
        try
        {
            var address = (await pong.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!["listening on ".Length..];
            using var ping = ActorSystem.Create("ping", RemoteConfig);
            var target = await ping.ActorSelection($"{address}/user/pong").ResolveOne(TimeSpan.FromSeconds(10));
            await target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10));
            Console.WriteLine("ready");
            while (Console.ReadLine() is { } command)
            {
                var (parallel, seconds) = command.Split(' ') is [var p, var s] ? (int.Parse(p), double.Parse(s, CultureInfo.InvariantCulture)) : throw new ArgumentException($"not PARALLEL SECONDS: {command}");
                var result = await MeasureAsync(parallel, TimeSpan.FromSeconds(seconds), () => target.Ask<byte[]>(new byte[64], TimeSpan.FromSeconds(10)));
                Console.WriteLine(JsonSerializer.Serialize(result));
            }
            await ping.Terminate();
        }
        finally
        {
            pong.Kill();
        }
    }

    /// <summary>Runs <paramref name="parallel"/> loops of <paramref name="roundTrip"/> for <paramref name="duration"/>.</summary>
    private static async Task<CellResult> MeasureAsync(int parallel, TimeSpan duration, Func<Task> roundTrip)
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
        double? Percentile(double p) => all.Length == 0 ? null : all[Math.Min(all.Length - 1, (int)(all.Length * p))];
        return new CellResult(all.Length / clock.Elapsed.TotalSeconds, all.Length, Percentile(0.50), Percentile(0.99), Percentile(0.999), null);
    }

    /// <summary>The other process of the ping-pong: an actor that answers every message with itself (over TLS with <paramref name="tls"/>).</summary>
    public static async Task PongServerAsync(bool tls = false)
    {
        using var system = CreateSystem("pong", tls);
        system.ActorOf(Props.Create(() => new Pong()), "pong");
        Console.WriteLine($"listening on {((ExtendedActorSystem)system).Provider.DefaultAddress}");
        await Task.Run(Console.In.ReadToEnd); // until the driver ends
    }

    private sealed class Pong : ReceiveActor
    {
        public Pong() => ReceiveAny(message => Sender.Tell(message));
    }
}
