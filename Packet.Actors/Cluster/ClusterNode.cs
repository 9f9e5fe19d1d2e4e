using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Event;
using Packet.Actors.Runtime;
using Packet.Actors.Workers.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using Member = Akka.Cluster.Member;
using MemberStatus = Akka.Cluster.MemberStatus;

namespace Packet.Actors.Cluster;

/// <summary>
/// A process's node in a PacketAkka cluster: an actor system of its own, beside the reactor's, running
/// Akka.Cluster over mutual TLS with the cluster's credentials. A master's node has the role
/// <see cref="ClusterSettings.MasterRole"/>, a host agent's <see cref="ClusterSettings.HostRole"/>.
/// </summary>
/// <remarks>
/// Its own system, because the reactor's serves the loopback link to the master's WorkerHosts, whose code
/// holds that link's certificate and must not be able to use it to join the cluster; and because
/// Akka.Remote ends a system whose outgoing TLS handshake fails, which must not end the reactor.
/// </remarks>
internal sealed class ClusterNode
{
    private readonly ClusterCredentials _credentials;
    private readonly ClusterSettings _settings;

    private ClusterNode(ActorSystem system, string role, ClusterCredentials credentials, ClusterSettings settings)
    {
        System = system;
        Role = role;
        _credentials = credentials;
        _settings = settings;
    }

    /// <summary>The node's actor system.</summary>
    public ActorSystem System { get; }

    /// <summary>This node's role.</summary>
    public string Role { get; }

    /// <summary>The address the other nodes reach this one at.</summary>
    public Address Address => AkkaCluster.Get(System).SelfAddress;

    /// <summary>The host agents this node sees up, by address.</summary>
    public IReadOnlyList<Address> Hosts =>
        AkkaCluster.Get(System).State.Members.Where(m => m.HasRole(ClusterSettings.HostRole) && m.Status == MemberStatus.Up).Select(m => m.Address).ToArray();

    /// <summary>Ends when the node's actor system has ended: after <see cref="LeaveAsync"/>, or when it stopped by itself.</summary>
    public Task WhenTerminated => System.WhenTerminated;

    /// <summary>
    /// Starts a node of <paramref name="role"/>, to <see cref="Join"/> once its own actors are there. It logs at
    /// <paramref name="logLevel"/>, through <paramref name="logging"/> when given (the reactor's logger factory).
    /// </summary>
    /// <exception cref="InvalidDataException">The credentials cannot be read.</exception>
    public static ClusterNode Start(ClusterSettings settings, string role, string logLevel, LoggerFactoryLogger.Setup? logging)
    {
        var credentials = ClusterCredentials.Load(settings.Credentials, role);
        var config = ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = {{logLevel}}
              stdout-loglevel = WARNING
              logger-formatter = "Akka.Event.SemanticLogMessageFormatter, Akka"
              {{(logging is null ? "" : $"loggers = [\"{LoggerFactoryLogger.ConfigName}\"]")}}
              actor {
                provider = cluster
                # Work, outcomes and offers cross the cluster in the worker link's own format.
                serializers.packet-workers = "Packet.Actors.Workers.Protocol.WorkerProtocolSerializer, Packet.Actors"
                serialization-bindings {
                  "Packet.Actors.Workers.Protocol.WorkerProtocol+IMessage, Packet.Actors" = packet-workers
                }
                # Akka's JSON serializer, the one for types no other is bound to, builds whatever type the bytes name: any
                # node (a host's credentials are readable by its worker code) could have this one build objects of its
                # choosing. One that refuses takes its place: its id names nothing here, and such a message is dropped unread.
                serializers.json = "Packet.Actors.Workers.Protocol.RefusingSerializer, Packet.Actors"
              }
              # This node writes to a node only over a link it opened itself, so it has checked the certificate
              # at that node's address, and knows its role (ClusterCredentials.RoleAt).
              remote.use-passive-connections = off
              remote.dot-netty.tcp {
                hostname = "{{settings.Hostname}}"
                port = {{settings.Port}}
                enable-ssl = on
              }
              cluster {
                roles = ["{{role}}"]
                # Akka's split-brain resolver; only masters vote, so hosts can never down a master.
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  keep-majority.role = "{{ClusterSettings.MasterRole}}"
                  # Downing every node during a long instability would cut every master off its agents. Off, a
                  # cluster-unique worker still moves only once the resolver has downed its agent (README, "Downing").
                  down-all-when-unstable = off
                }
                log-info = off
                # The failure detector's verdicts take effect at this interval (Akka's default 1 s): halved, for
                # asks at a frozen or silent host fail sooner (failover within 6 s, p95: bench/results/cluster.md).
                unreachable-nodes-reaper-interval = 500ms
                # A frozen or silent node is found about one heartbeat interval plus acceptable-heartbeat-pause (3 s, kept:
                # it is what rides out a stalled process) after its last heartbeat. Heartbeats every 500 ms instead of 1 s
                # take half a second off that, for a few bytes more per node and second.
                failure-detector.heartbeat-interval = 500ms
              }
              coordinated-shutdown.run-by-clr-shutdown-hook = off
              coordinated-shutdown.exit-clr = off
            }
            """).WithFallback(ClusterSingleton.DefaultConfig()); // the hand-over's messages, and their serializer
        var setup = ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config)).And(credentials.Setup())
            .And(new LogFilterBuilder().Add(new LinkLogFilter()).Build()); // strangers' handshakes, dead members' retries
        if (logging is not null) setup = setup.And(logging);
        var system = ActorSystem.Create(settings.SystemName, setup);
        var node = new ClusterNode(system, role, credentials, settings);
        system.ActorOf(Props.Create(() => new MembersLog()), "members");
        system.ActorOf(Props.Create(() => new RoleCheckActor(credentials)), RoleCheckActor.Name);
        return node;
    }

    /// <summary>
    /// Joins the cluster at <see cref="ClusterSettings.SeedNodes"/>, or starts one of its own when there are none: after the
    /// node's own actors have started, so that no message the other nodes send once they see it finds them missing.
    /// </summary>
    public void Join()
    {
        var cluster = AkkaCluster.Get(System);
        var self = cluster.SelfAddress;
        cluster.JoinSeedNodes(_settings.SeedNodes.Count == 0
            ? [self]
            : _settings.SeedNodes.Select(seed => new Address(self.Protocol, _settings.SystemName, seed.Host, seed.Port)));
    }

    /// <summary>Whether <paramref name="address"/> is a member of <paramref name="system"/>'s cluster that is up with <paramref name="role"/>: the only nodes PacketAkka's cluster actors take messages from.</summary>
    public static bool IsUp(ActorSystem system, Address address, string role) =>
        AkkaCluster.Get(system).State.Members.Any(m => m.Address.Equals(address) && m.Status == MemberStatus.Up && m.HasRole(role));

    /// <summary>
    /// Whether <paramref name="address"/> is a master: a member that is up with <see cref="ClusterSettings.MasterRole"/>,
    /// and whose certificate, seen when this node opened its link to it, was issued for that role. A host
    /// agent takes work only from such a node: its own certificate cannot make a host a master.
    /// </summary>
    public bool IsMaster(Address address) =>
        IsUp(System, address, ClusterSettings.MasterRole) && _credentials.RoleAt(address) == ClusterSettings.MasterRole;

    /// <summary>Leaves the cluster (the others see this node go, not fail) and ends the node's actor system.</summary>
    public Task LeaveAsync() => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);

    /// <summary>Logs the other nodes as they come, fail, come back and go.</summary>
    private sealed class MembersLog : ReceiveActor
    {
        private readonly ILoggingAdapter _log = Context.GetLogger();

        public MembersLog()
        {
            Receive<ClusterEvent.MemberUp>(up => _log.Info("{Role} {Node} is up", RoleOf(up.Member), up.Member.Address));
            Receive<ClusterEvent.UnreachableMember>(lost => _log.Warning("{Role} {Node} is unreachable", RoleOf(lost.Member), lost.Member.Address));
            Receive<ClusterEvent.ReachableMember>(back => _log.Info("{Role} {Node} is reachable again", RoleOf(back.Member), back.Member.Address));
            Receive<ClusterEvent.MemberRemoved>(gone => _log.Info("{Role} {Node} left the cluster (it was {Status})", RoleOf(gone.Member), gone.Member.Address, gone.PreviousStatus));
            Receive<ClusterEvent.IMemberEvent>(_ => { });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        private static string RoleOf(Member member) => member.HasRole(ClusterSettings.MasterRole) ? "master" : member.HasRole(ClusterSettings.HostRole) ? "host agent" : "node";

        protected override void PreStart() =>
            AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

        protected override void PostStop() => AkkaCluster.Get(Context.System).Unsubscribe(Self);
    }
}
