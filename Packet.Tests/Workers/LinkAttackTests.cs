using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;
using Packet.Actors;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Workers;

/// <summary>
/// The worker link under attack, by a process on the same machine: a stranger with no certificate, one
/// with a certificate of its own, and one holding the run's own credentials (what hostile code inside a
/// worker has). Each throws everything it can at the master's remoting port and a WorkerHost's; the
/// master must do none of it and keep serving its clients.
/// </summary>
public sealed class LinkAttackTests : IAsyncLifetime
{
    /// <summary>How long a refused message is given to have an effect: a working link answers on loopback in milliseconds.</summary>
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(3);

    private Reactor _master = null!;
    private Server _server = null!;

    public async Task InitializeAsync()
    {
        _master = Reactors.Start("""
            packet.workers {
              types = ["Packet.Tests.Workers.EchoWorker, Packet.Tests", "Packet.Tests.Workers.KeyedWorker, Packet.Tests", "Packet.Tests.Workers.ThiefWorker, Packet.Tests"]
              restart.min-backoff = 500ms
            }
            """);
        _server = await _master.StartServerAsync<EchoAsker>(Loopback.Host, 0);
        await Running("echo_worker");
        await Running("thief_worker");
    }

    public async Task DisposeAsync()
    {
        var hosts = (await _master.GetWorkersAsync()).Select(w => w.ProcessId).OfType<int>().ToArray();
        await _master.StopAsync();
        foreach (var pid in hosts) await Hosts.GoneAsync(pid);
    }

    [Fact]
    public async Task A_stranger_without_this_runs_certificate_reaches_no_actor_of_the_master_or_a_WorkerHost()
    {
        var host = (await Running("echo_worker"))!.Value;
        var hostPort = Processes.ListeningPorts(host).Single();
        var masterAddress = ((ExtendedActorSystem)_master.System).Provider.DefaultAddress;
        using var otherCertificate = SelfSigned();
        var strangers = new[]
        {
            (Name: "plaintext", System: Attacker("plaintext", null), Scheme: "akka.tcp"),
            (Name: "own-certificate", System: Attacker("own-certificate", otherCertificate), Scheme: "akka.ssl.tcp"),
        };
        try
        {
            foreach (var (name, system, scheme) in strangers)
            {
                var master = $"{scheme}://{masterAddress.System}@127.0.0.1:{masterAddress.Port}";
                var worker = $"{scheme}://worker@127.0.0.1:{hostPort}";
                foreach (var path in new[] { $"{master}/user/workers", $"{master}/user/reactor", $"{worker}/user/worker" })
                {
                    await AssertNoAnswer(system.ActorSelection(path).Ask<ActorIdentity>(new Identify(1), Silence), $"{name}: Identify {path}");
                    await AssertNoAnswer(system.ActorSelection(path).Ask<object>(new WorkerProtocol.Register("guess", 1, "echo_worker", system.DeadLetters), Silence), $"{name}: Register at {path}");
                    Resolve(system, path).Tell(PoisonPill.Instance);
                    Resolve(system, path).Tell(Kill.Instance);
                }
            }

            await AssertStillServing();
            Assert.True(Hosts.IsAlive(host), "the WorkerHost must not have stopped");
            Assert.Equal(host, await _master.AskWorkerAsync("echo_worker", "pid"));
        }
        finally
        {
            foreach (var stranger in strangers) await stranger.System.Terminate();
        }
    }

    [Fact]
    public async Task A_peer_holding_this_runs_certificate_can_command_nothing_and_forge_no_reply()
    {
        // What hostile code inside a worker could do: it has the run's credentials, and speaks the protocol.
        using var attacker = Attacker("insider", _master.Link!.Certificate);
        var address = ((ExtendedActorSystem)_master.System).Provider.DefaultAddress;
        var master = address.ToString();
        var host = (await Running("echo_worker"))!.Value;
        var worker = $"akka.ssl.tcp://worker@127.0.0.1:{Processes.ListeningPorts(host).Single()}/user/worker";
        var before = await _master.GetWorkersAsync();
        var probe = attacker.ActorOf(Props.Create(() => new Inbox()), "probe");
        var inbox = await probe.Ask<Inbox>(Inbox.Query, Silence);

        // A client's ask is in flight while the attacker answers for it.
        using var client = await Loopback.ConnectAsync(_server.LocalEndPoint);
        await client.SendAsync("sleep:1500\n");

        foreach (var path in new[] { $"{master}/user/workers", $"{master}/user/reactor", worker })
        {
            await AssertNoAnswer(attacker.ActorSelection(path).Ask<ActorIdentity>(new Identify(1), Silence), $"Identify {path}");
            var target = Resolve(attacker, path);
            target.Tell(PoisonPill.Instance);
            target.Tell(Kill.Instance);
            for (var i = 0; i < 100; i++) target.Tell(new WorkersActor.StartWorker("keyed_worker", $"planted{i}", new Dictionary<string, string>()), probe);
            target.Tell(WorkersActor.EndAll.Instance, probe);
            target.Tell(new Packet.Actors.Runtime.ReactorActor.Run(() => File.WriteAllText("/tmp/packet-attack-ran", "ran")), probe);
            target.Tell(new Deep(Nested(200_000)), probe);
        }
        // The registry takes outcomes; the proxies take pushes. Each is sent both, claiming to be the real host.
        var proxies = Enumerable.Range(0, 26).Select(i => Resolve(attacker, $"{master}/user/workers/${(char)('a' + i)}"))
            .Prepend(Resolve(attacker, $"{master}/user/workers")).ToArray();
        var forged = Enumerable.Range(1, 10_000).Select(id => new WorkerProtocol.Outcome(id, new byte[] { 1, (byte)'X' }, null))
            .Concat(Enumerable.Range(0, 10_000).Select(_ => new WorkerProtocol.Outcome(RandomNumberGenerator.GetInt32(int.MaxValue) * 4294967296L + RandomNumberGenerator.GetInt32(int.MaxValue), new byte[] { 1, (byte)'X' }, null)))
            .Chunk(1_000).ToArray();
        foreach (var proxy in proxies)
        {
            foreach (var chunk in forged) proxy.Tell(new WorkerProtocol.Outcomes(chunk), Resolve(attacker, worker)); // claiming to be the real host
            proxy.Tell(new WorkerProtocol.Push(new byte[] { 1, (byte)'X' }), Resolve(attacker, worker));
        }

        // The client gets its own answer, not a forged one.
        var reply = await client.ReadExactlyAsync("sleep:1500\n".Length);
        Assert.Equal("sleep:1500\n", System.Text.Encoding.UTF8.GetString(reply));

        // Registration right after a restart: the master waits for the new host, and only its launch secret will do.
        Process.GetProcessById(host).Kill();
        await Bounded.Until(async () => (await _master.GetWorkersAsync()).Any(w => w.Name == "echo_worker" && w.State == "starting"), "echo_worker to restart");
        for (var instance = 1; instance <= 4; instance++)
        {
            Resolve(attacker, $"{master}/user/workers").Tell(new WorkerProtocol.Register("", instance, "echo_worker", probe), probe);
            Resolve(attacker, $"{master}/user/workers").Tell(new WorkerProtocol.Register(WorkersRuntime.NewSecret(), instance, "echo_worker", probe), probe);
        }
        await Running("echo_worker", replacing: host); // the registrations were refused (and logged), and got no answer: see the last test

        // Nothing it asked for happened, and nothing but refusals came back.
        await AssertStillServing();
        Assert.Empty(await inbox.Take(1, Silence));
        Assert.False(File.Exists("/tmp/packet-attack-ran"));
        var after = await _master.GetWorkersAsync();
        Assert.Equal(before.Select(w => (w.Name, w.Key)).Order(), after.Select(w => (w.Name, w.Key)).Order());
        Assert.Equal("still here", await _master.AskWorkerAsync("echo_worker", "still here"));
    }

    [Fact]
    public async Task A_worker_that_steals_its_own_launch_secret_cannot_register_with_it_before_or_after_a_restart()
    {
        using var attacker = Attacker("thief", _master.Link!.Certificate);
        var master = ((ExtendedActorSystem)_master.System).Provider.DefaultAddress.ToString();
        var probe = attacker.ActorOf(Props.Create(() => new Inbox()), "probe");
        var inbox = await probe.Ask<Inbox>(Inbox.Query, Silence);
        var host = (await Running("thief_worker"))!.Value;
        var stolen = Assert.IsType<string[]>(await _master.AskWorkerAsync("thief_worker", "steal"));
        var register = new WorkerProtocol.Register(stolen[0], long.Parse(stolen[1]), "thief_worker", probe);

        Resolve(attacker, $"{master}/user/workers").Tell(register, probe); // while its own host runs
        Process.GetProcessById(host).Kill();
        await Bounded.Until(async () => (await _master.GetWorkersAsync()).Any(w => w is { Name: "thief_worker", State: "starting" }), "thief_worker to restart");
        Resolve(attacker, $"{master}/user/workers").Tell(register, probe); // while the next launch is starting

        var next = (await Running("thief_worker", replacing: host))!.Value;
        Assert.Empty(await inbox.Take(1, Silence)); // refused and logged, with no answer
        Assert.NotEqual(stolen[0], Assert.IsType<string[]>(await _master.AskWorkerAsync("thief_worker", "steal"))[0]); // a new launch, a new secret
        Assert.True(Hosts.IsAlive(next));
    }

    [Fact]
    public async Task A_peer_that_points_the_masters_replies_at_a_port_that_fails_TLS_does_not_stop_the_master()
    {
        // Akka.Remote ends its actor system when a TLS handshake it starts fails (exit code 79). Hostile worker code
        // holds the run's credentials, and names the sender of what it sends: it names a port that answers no TLS.
        using var bait = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        bait.Start();
        var baited = 0;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                using var socket = await bait.AcceptSocketAsync();
                Interlocked.Increment(ref baited);
                await socket.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            }
        });
        using var attacker = Attacker("insider", _master.Link!.Certificate);
        var master = ((ExtendedActorSystem)_master.System).Provider.DefaultAddress.ToString();
        var noTls = Resolve(attacker, $"akka.ssl.tcp://bait@127.0.0.1:{((System.Net.IPEndPoint)bait.LocalEndpoint).Port}/user/bait");
        var registry = Resolve(attacker, $"{master}/user/workers");

        registry.Tell(new WorkerProtocol.Register("", 1, "echo_worker", noTls), noTls);
        registry.Tell(new WorkerProtocol.Register("", 999, "echo_worker", noTls), noTls);
        Resolve(attacker, $"{master}/user/workers/$a").Tell(new WorkerProtocol.Register("", 1, "echo_worker", noTls), noTls);
        await Task.Delay(Silence); // what the master would do, it does within a link round trip

        Assert.Equal(0, Volatile.Read(ref baited)); // the master never dialled the port it was pointed at
        Assert.False(_master.System.WhenTerminated.IsCompleted, "the master's actor system ended");
        await AssertStillServing();
    }

    // ---- the attackers -------------------------------------------------------------------------

    /// <summary>
    /// A plain Akka.Remote actor system that writes anything: Hyperion for every type, the worker protocol's
    /// own serializer for its messages. With a certificate it speaks TLS, presenting that certificate and
    /// accepting any.
    /// </summary>
    private static ActorSystem Attacker(string name, X509Certificate2? certificate)
    {
        var config = ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = OFF
              stdout-loglevel = OFF
              actor {
                provider = remote
                serializers {
                  hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
                  packet-workers = "Packet.Actors.Workers.Protocol.WorkerProtocolSerializer, Packet.Actors"
                  forged = "Packet.Tests.Workers.LinkAttackTests+ForgedHyperion, Packet.Tests"
                }
                serialization-bindings {
                  "System.Object" = hyperion
                  "Packet.Actors.Workers.Protocol.WorkerProtocol+IMessage, Packet.Actors" = packet-workers
                  "Packet.Tests.Workers.LinkAttackTests+Deep, Packet.Tests" = forged
                }
              }
              remote.dot-netty.tcp {
                hostname = "127.0.0.1"
                port = 0
                maximum-frame-size = 24 MiB
                enable-ssl = {{(certificate is null ? "off" : "on")}}
              }
            }
            """);
        var setup = BootstrapSetup.Create().WithConfig(config);
        return certificate is null
            ? ActorSystem.Create(name, setup)
            : ActorSystem.Create(name, setup.And(new DotNettySslSetup(certificate, suppressValidation: true, requireMutualAuthentication: true)));
    }

    private static IActorRef Resolve(ActorSystem system, string path) => ((ExtendedActorSystem)system).Provider.ResolveActorRef(path);

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var made = new CertificateRequest("CN=PacketAkka worker link", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An <c>object[]</c> nested <paramref name="depth"/> deep, which a recursive reader follows until its stack overflows.</summary>
    private static object[] Nested(int depth)
    {
        var outer = new object[1];
        var current = outer;
        for (var i = 1; i < depth; i++)
        {
            var inner = new object[1];
            current[0] = inner;
            current = inner;
        }
        return outer;
    }

    /// <summary>A nested array, sent as Hyperion bytes (Hyperion's serializer id) that were written on a thread with room for the recursion.</summary>
    public sealed record Deep(object[] Value);

    /// <summary>Writes <see cref="Deep"/> with Hyperion's id and format, on a thread with a 1 GiB stack.</summary>
    public sealed class ForgedHyperion(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
    {
        public override int Identifier => -5;

        public override bool IncludeManifest => false;

        public override byte[] ToBinary(object obj)
        {
            byte[]? bytes = null;
            var writer = new Thread(() =>
            {
                using var stream = new MemoryStream();
                new Hyperion.Serializer().Serialize(((Deep)obj).Value, stream);
                bytes = stream.ToArray();
            }, 1 << 30);
            writer.Start();
            writer.Join();
            return bytes!;
        }

        public override object FromBinary(byte[] bytes, Type type) => throw new NotSupportedException();
    }

    /// <summary>Collects what the master sends the attacker.</summary>
    private sealed class Inbox : ReceiveActor
    {
        public static readonly object Query = new();

        private readonly System.Threading.Channels.Channel<object> _received = System.Threading.Channels.Channel.CreateUnbounded<object>();

        public Inbox()
        {
            Receive<object>(m => ReferenceEquals(m, Query), _ => Sender.Tell(this));
            ReceiveAny(m => _received.Writer.TryWrite(m));
        }

        /// <summary>Up to <paramref name="count"/> messages, as many as arrive within <paramref name="limit"/>.</summary>
        public async Task<List<object>> Take(int count, TimeSpan limit)
        {
            var taken = new List<object>();
            using var cts = new CancellationTokenSource(limit);
            try
            {
                while (taken.Count < count) taken.Add(await _received.Reader.ReadAsync(cts.Token));
            }
            catch (OperationCanceledException)
            {
            }
            return taken;
        }
    }

    // ---- checks --------------------------------------------------------------------------------

    /// <summary>
    /// The ask times out, fails because the link would not carry it, or finds no actor (an Identify the
    /// link dropped ends in the attacker's own dead letters, which answer it with an empty identity).
    /// </summary>
    private static async Task AssertNoAnswer<T>(Task<T> answer, string what)
    {
        T answered;
        try
        {
            answered = await answer.Within(what, Silence + TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            return;
        }
        if (answered is not ActorIdentity { Subject: null }) Assert.Fail($"{what} was answered: {answered}");
    }

    /// <summary>The master's reactor and registry are alive: its server accepts, and a connection's worker ask is answered.</summary>
    private async Task AssertStillServing()
    {
        Assert.False(_master.WhenStopped.IsCompleted, "the master's reactor must not have stopped");
        using var client = await Loopback.ConnectAsync(_server.LocalEndPoint);
        await client.SendAsync("served\n");
        Assert.Equal("served\n", System.Text.Encoding.UTF8.GetString(await client.ReadExactlyAsync("served\n".Length)));
    }

    private Task<int?> Running(string name, int? replacing = null) => Hosts.RunningAsync(_master, name, replacing: replacing);

    /// <summary>Asks echo_worker for each line and writes the answer back.</summary>
    private sealed class EchoAsker : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker("echo_worker", line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine($"{reply.Data ?? reply.Error}");
    }
}
