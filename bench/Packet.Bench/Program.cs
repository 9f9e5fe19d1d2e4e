// PacketAkka's benchmarks. One command runs everything side by side and writes bench/results/results.md:
//   dotnet run -c Release --project bench/Packet.Bench -- all
// Each cell runs 3 times (--runs N) and the median is reported. --quick runs every cell once for a second, to check that the bench works (CI does this); it judges nothing.
// A partial run, to check a few cells, prints its table and writes no results: all --cells rr,pipelined,worker-50 [--seconds S] [--runs N]
// (cells: rr, pipelined, bulk, connect, idle, tls-rr, tls-pipelined, tls-bulk, tls-idle, worker-1, worker-50, worker-50x16)
// Server-only modes, each printing "listening on HOST:PORT" and running until killed:
//   echo-server | echo-server-on-sockets | raw-echo-server | kestrel-echo-server | worker-echo-server | worker-floor-server | akka-remote-floor-server  [--port N]
// (echo-server runs PacketAkka on its default transport, Akka.IO; echo-server-on-X on packet.tcp.transport = X;
// worker-floor-server is the worker cells' floor, one process hop over a Unix socket, whose child is worker-floor-child --socket PATH;
// akka-remote-floor-server is the same floor with its hop over Akka.Remote, to pong-server; --tls puts TLS on that hop, as on the worker link)
// The EventMachine baseline is a Ruby script, not a mode: ruby Servers/eventmachine-echo.rb --port N
// ("all" runs it when Ruby and EventMachine are installed, and leaves its column empty when not).
// The load generator is bench/loadgen/loadgen.c, built with the system's C compiler on first use (see bench/README.md).
// PACKET_BENCH_HOCON, if set, is layered under the PacketAkka servers' config, to try settings:
//   PACKET_BENCH_HOCON='akka.io.tcp { maximum-frame-size = 16k, send-buffer-size = 32k, receive-buffer-size = 32k }'
// The Akka.Remote ping-pong beside the worker cells: ping-pong prints "ready", then runs one measurement per line
// "PARALLEL SECONDS" on its standard input and prints it as JSON; its other process is pong-server.
// Scale-out on Akka.Cluster (writes bench/results/cluster.md; --quick: one short run and one trial of each, nothing written):
//   cluster [--quick] [--trials 20] [--seconds 5] [--no-write]
// runs a master (cluster-master-server [--cluster-host ADDRESS] --cluster-port N --credentials DIR --worker NAME, or --local for its baseline) and host agents (Packet.WorkerHost.dll join)
// whose worker root is cluster-workers/ beside this program (built from bench/Packet.Bench/cluster-workers).
// The cluster soak: a master and two agents under asks (half of them idempotent) while the agents are killed, frozen and stopped in turn;
// it checks its invariants at the end and exits with 1 if one broke (CI runs it for 90 s; 5 minutes or more write bench/results/cluster-soak.md):
//   cluster-soak [--seconds 90 | --minutes 10] [--no-write]
// The RedisServer sample against redis-server, both driven by redis-benchmark (SET and GET, -c 50 -P 16), taking turns
// (writes bench/results/redis.md; --quick: one short turn, nothing written; needs redis-server and redis-tools):
//   redis [--quick] [--runs 5]
// The soak and chaos run (churn, long-lived echoes, slow readers, garbage, AskWorker with WorkerHosts killed every 5 s);
// it checks its invariants at the end and exits with 1 if one broke (CI runs it for 60 s):
//   soak [--seconds 60 | --minutes 10] [--transport akka-io|sockets]
using Packet.Bench;
using Packet.Bench.Cluster;
using Packet.Bench.Load;
using Packet.Bench.Redis;
using Packet.Bench.Servers;
using Packet.Bench.Soak;

var mode = args.FirstOrDefault() ?? "all";
var port = int.Parse(Option("--port") ?? "0");
switch (mode)
{
    case "all":
        return await BenchRunner.RunAsync(args.Contains("--quick"), int.Parse(Option("--runs") ?? "3"), Path.Combine(BenchRunner.RepositoryRoot(), "bench", "results"),
            Option("--cells")?.Split(','), Option("--seconds") is { } seconds ? double.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) : null);
    case "echo-server":
        await PacketEchoServer.RunAsync(port, "akka-io");
        return 0;
    case "echo-server-on-sockets":
        await PacketEchoServer.RunAsync(port, "sockets");
        return 0;
    case "tls-echo-server":
        await PacketEchoServer.RunAsync(port, "akka-io", tls: true);
        return 0;
    case "tls-echo-server-on-sockets":
        await PacketEchoServer.RunAsync(port, "sockets", tls: true);
        return 0;
    case RawTlsEchoServer.Name:
        await RawTlsEchoServer.RunAsync(port);
        return 0;
    case "raw-echo-server":
        await RawEchoServer.RunAsync(port);
        return 0;
    case "kestrel-echo-server":
        await KestrelEchoServer.RunAsync(port);
        return 0;
    case "worker-echo-server":
        await WorkerEchoServer.RunAsync(port);
        return 0;
    case WorkerFloorServer.Name:
        await WorkerFloorServer.RunAsync(port);
        return 0;
    case WorkerFloorServer.OverAkkaRemote:
        await WorkerFloorServer.RunOverAkkaRemoteAsync(port, args.Contains("--tls"));
        return 0;
    case "worker-floor-child":
        WorkerFloorServer.Child(Option("--socket") ?? throw new ArgumentException("worker-floor-child needs --socket PATH"));
        return 0;
    case "ping-pong":
        await AkkaRemotePingPong.DriveAsync();
        return 0;
    case "pong-server":
        await AkkaRemotePingPong.PongServerAsync(args.Contains("--tls"));
        return 0;
    case RedisBench.Mode:
        return await RedisBench.RunAsync(args.Contains("--quick"), int.Parse(Option("--runs") ?? "5"),
            Path.Combine(BenchRunner.RepositoryRoot(), "bench", "results", "redis.md"));
    case ClusterBench.Mode:
        return await ClusterBench.RunAsync(args.Contains("--quick"), int.Parse(Option("--trials") ?? "20"), double.Parse(Option("--seconds") ?? "5"),
            args.Contains("--no-write") ? null : Path.Combine(BenchRunner.RepositoryRoot(), "bench", "results"));
    case ClusterSoak.Mode:
        var soakFor = Option("--minutes") is { } soakMinutes ? TimeSpan.FromMinutes(double.Parse(soakMinutes)) : TimeSpan.FromSeconds(double.Parse(Option("--seconds") ?? "90"));
        return await ClusterSoak.RunAsync(soakFor,
            args.Contains("--no-write") || soakFor < TimeSpan.FromMinutes(5) ? null : Path.Combine(BenchRunner.RepositoryRoot(), "bench", "results", "cluster-soak.md"));
    case ClusterMaster.Mode:
        await ClusterMaster.ServeAsync(port, Option("--cluster-host") ?? "127.0.0.1", int.Parse(Option("--cluster-port") ?? "0"), args.Contains("--local") ? null : Option("--credentials")!, Option("--worker")!);
        return 0;
    case "soak":
        var minutes = Option("--minutes");
        return await SoakRun.RunAsync(minutes is null ? TimeSpan.FromSeconds(double.Parse(Option("--seconds") ?? "60")) : TimeSpan.FromMinutes(double.Parse(minutes)),
            Option("--transport") ?? "akka-io");
    case "soak-server":
        await SoakServer.RunAsync(Option("--transport") ?? "akka-io");
        return 0;
    default:
        Console.Error.WriteLine($"Packet.Bench: unknown mode {mode}; see the comment at the top of Program.cs");
        return 2;
}

string? Option(string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
