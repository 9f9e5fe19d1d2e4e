using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Cluster;

/// <summary>
/// <c>dotnet Packet.WorkerHost.dll join --seed HOST:PORT [--seed HOST:PORT ...] --root FOLDER --credentials DIR [--hostname ADDRESS] [--port N] [--worker-user USER]</c>:
/// runs a host agent. It starts the workers of its root as local WorkerHost processes, as a master does,
/// and joins the cluster at the first seed that answers as a node of role <c>packet-host</c>, with the credentials in DIR. It
/// runs until SIGINT or SIGTERM, then answers the asks it holds, leaves the cluster and ends its WorkerHosts.
/// </summary>
internal static class JoinCommand
{
    private const string Usage = "usage: dotnet Packet.WorkerHost.dll join --seed HOST:PORT [--seed HOST:PORT ...] --root FOLDER --credentials DIR [--hostname ADDRESS] [--port N] [--worker-user USER]";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["--help" or "-h" or "-?", ..])
        {
            Console.WriteLine(Usage);
            Console.WriteLine("Runs a PacketAkka host agent: the workers of FOLDER in local WorkerHost processes, offered to the cluster that the seeds belong to.");
            Console.WriteLine("Name each master as a seed (repeat --seed): the agent joins through whichever answers, and keeps trying until one does.");
            Console.WriteLine("DIR holds the cluster's ca.crt and packet-host.pfx. ADDRESS (default 127.0.0.1) is where the other nodes reach this one; N (default 0, a free port) its port.");
            Console.WriteLine("USER: run the WorkerHosts as this Unix user (the agent runs as root), so worker code cannot read DIR.");
            return 0;
        }
        var seeds = new List<string>();
        string? root = null, credentials = null, hostname = "127.0.0.1", port = "0", user = "";
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length && args[i + 1].Length > 0 ? args[i + 1] : null;
            switch (args[i])
            {
                case "--seed" when value is not null: seeds.Add(value); i++; break;
                case "--root" when value is not null: root = value; i++; break;
                case "--credentials" when value is not null: credentials = value; i++; break;
                case "--hostname" when value is not null: hostname = value; i++; break;
                case "--port" when value is not null: port = value; i++; break;
                case "--worker-user" when value is not null: user = value; i++; break;
                default: return Fail($"unexpected argument '{args[i]}'");
            }
        }
        if (seeds.Count == 0 || root is null || credentials is null) return Fail("--seed, --root and --credentials are required");

        ClusterSettings settings;
        Reactor reactor;
        try
        {
            var config = ConfigurationFactory.ParseString($$"""
                packet.reactor.name = "host-agent"
                packet.workers {
                  enabled = on
                  root = {{Quote(root)}}
                  user = {{Quote(user)}}
                }
                packet.cluster {
                  hostname = {{Quote(hostname)}}
                  port = {{Quote(port)}}
                  seed-nodes = [{{string.Join(", ", seeds.Select(Quote))}}]
                  credentials = {{Quote(credentials)}}
                }
                """);
            foreach (var seed in seeds) ClusterSettings.Seed(seed, "--seed"); // before the settings, whose message would name packet.cluster.seed-nodes
            settings = ClusterSettings.From(config.WithFallback(Reactor.DefaultConfig)) with { Enabled = true };
            ClusterCredentials.Load(settings.Credentials, ClusterSettings.HostRole); // fails here, not in the node
            reactor = Reactor.StartHostAgent(config);
        }
        catch (Exception e) when (e is ConfigurationException or InvalidDataException)
        {
            return Fail(e.Message);
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stop.TrySetResult(); });
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stop.TrySetResult(); });
        await using (reactor)
        {
            // It joins once its WorkerHosts are up: masters send work as soon as it offers, and work that waited
            // here for a starting WorkerHost could have gone to another agent.
            var served = HostAgentActor.Served.By(reactor);
            var starting = WorkersStartedAsync(reactor, served, reactor.System.Settings.Config.GetTimeSpan("packet.workers.start-timeout"));
            if (await Task.WhenAny(stop.Task, starting) == stop.Task) return 0;
            var node = ClusterNode.Start(settings, ClusterSettings.HostRole, reactor.System.Settings.Config.GetString("akka.loglevel"), null);
            var agent = node.System.ActorOf(Props.Create(() => new HostAgentActor(reactor, served, node)), HostAgentActor.Name);
            node.Join();
            Console.WriteLine($"host agent {node.Address} joins the cluster at {string.Join(" or ", seeds)} with workers {string.Join(", ", served.Select(w => w.Name))}");
            var ended = await Task.WhenAny(stop.Task, node.WhenTerminated);
            if (ended == node.WhenTerminated)
            {
                Console.Error.WriteLine("Packet.WorkerHost join: the cluster node ended (a refused TLS handshake, or the cluster downed it); the host agent stops");
                return 1;
            }
            // Masters send no new work from now on; what they sent is answered before the agent leaves.
            var drainTimeout = reactor.System.Settings.Config.GetTimeSpan("packet.reactor.drain-timeout");
            Console.WriteLine($"host agent {node.Address} is leaving: answering the asks it holds (up to {drainTimeout.TotalSeconds:0} s)");
            try
            {
                await agent.Ask<HostAgentActor.Drained>(HostAgentActor.Drain.Instance, drainTimeout);
            }
            catch (AskTimeoutException)
            {
                Console.Error.WriteLine($"Packet.WorkerHost join: asks still unanswered after packet.reactor.drain-timeout ({drainTimeout.TotalSeconds:0} s); they fail at their masters");
            }
            Console.WriteLine($"host agent {node.Address} leaves the cluster");
            await node.LeaveAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        return 0;
    }

    /// <summary>Ends when no instance of <paramref name="served"/> is starting any more (each is running, or failed and waits for its restart), or after <paramref name="limit"/>.</summary>
    private static async Task WorkersStartedAsync(Reactor reactor, IReadOnlyList<HostAgentActor.Served> served, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < limit)
        {
            var instances = (await reactor.GetWorkersAsync()).Where(w => served.Any(s => s.Name == w.Name && s.Key == w.Key)).ToArray();
            if (served.All(s => instances.Any(w => w.Name == s.Name)) && instances.All(w => w.State != "starting")) return;
            await Task.Delay(100);
        }
    }

    /// <summary>A HOCON string with <paramref name="text"/>, quoted and escaped.</summary>
    private static string Quote(string text) => $"\"{text.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";

    private static int Fail(string error)
    {
        Console.Error.WriteLine($"Packet.WorkerHost join: {error}");
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
