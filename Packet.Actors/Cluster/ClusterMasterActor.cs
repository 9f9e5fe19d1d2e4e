using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using Member = Akka.Cluster.Member;
using MemberStatus = Akka.Cluster.MemberStatus;
using UniqueAddress = Akka.Cluster.UniqueAddress;

namespace Packet.Actors.Cluster;

/// <summary>
/// A master's cluster node's actor (<c>/user/packet-master</c>): takes host agents' offers, each worker of
/// them as a <see cref="RemoteInstanceActor"/> added to the master's registry, and tells those instances
/// as their host becomes unreachable, reachable again, or leaves. Offers are taken only from members that
/// are up with the role <see cref="ClusterSettings.HostRole"/>. An agent offers once it sees itself up,
/// which may be before this node sees it up: so each agent this node sees come up without having taken its
/// offer is asked for it (<see cref="WorkerProtocol.OfferWanted"/>).
/// </summary>
/// <remarks>
/// A host is unreachable as soon as its link drops (Akka.Remote's <see cref="DisassociatedEvent"/>: at once
/// when its process dies, for its machine closes the connection), or when the failure detector loses it
/// (a host that hangs, or a network that fails silently: about 5 s). It is used again when the failure
/// detector finds it back, or when it offers again while the failure detector has not lost it: an agent
/// offers each time its link to a master comes up, and is asked to a second after its link dropped, so a
/// connection that dropped and came back is used again. A link that comes up to the same address is not
/// enough: it may be a new process there, a new incarnation of the member, and the old one's instance
/// must not take asks meant for it.
/// </remarks>
internal sealed class ClusterMasterActor(IActorRef registry, bool preferLocal) : ActorBase, IWithTimers
{
    /// <summary>A taken host's link dropped a second ago: if it is still a member the failure detector has not lost, ask it to offer again.</summary>
    private sealed record Probe(Address Host);

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The actor's name in its node.</summary>
    public const string Name = "packet-master";

    /// <summary>Each host agent whose offer was taken: the member that made it (one process at that address), and an instance per worker it offers.</summary>
    private readonly Dictionary<Address, (UniqueAddress Member, Dictionary<WorkerProtocol.OfferedWorker, IActorRef> Instances)> _byHost = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _refusals = new();

    /// <summary>
    /// The members this node has seen come up and not yet go, from the cluster's events. Not the cluster's read view
    /// (<c>Cluster.State</c>), which its own subscription updates, and may not have when an event comes here: an offer
    /// refused for an agent that view did not show up yet, after its <see cref="ClusterEvent.MemberUp"/> came here, would never be asked for again.
    /// </summary>
    private readonly Dictionary<UniqueAddress, Member> _up = new();

    protected override void PreStart()
    {
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.IMemberEvent));
        Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));
    }

    protected override void PostStop()
    {
        AkkaCluster.Get(Context.System).Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Offer offer when UpHost(Sender.Path.Address) is { } member:
                Offered(member, offer);
                return true;
            case WorkerProtocol.Draining when ClusterNode.IsUp(Context.System, Sender.Path.Address, ClusterSettings.HostRole):
                Tell(Sender.Path.Address, RemoteInstanceActor.HostEvent.Draining);
                _log.Info("host agent {Host} is leaving: it answers what it holds and takes no new asks", Sender.Path.Address);
                return true;
            case WorkerProtocol.Draining:
                return true;
            case WorkerProtocol.Offer when IsHostMember(Sender.Path.Address):
                return true; // an agent not up here yet: asked again once it is
            case WorkerProtocol.Offer offer:
                if (_refusals.Due(out var skipped))
                    _log.Warning("dropped an offer of {Workers} from {Sender}, which is not a host agent that is up ({Skipped} more such since the last warning)",
                        offer.Workers.Length, Sender.Path, skipped);
                return true;
            case ClusterEvent.UnreachableMember lost when IsTaken(lost.Member):
                Tell(lost.Member.Address, RemoteInstanceActor.HostEvent.Unreachable);
                return true;
            case ClusterEvent.ReachableMember back when IsTaken(back.Member):
                Tell(back.Member.Address, RemoteInstanceActor.HostEvent.Reachable);
                return true;
            case ClusterEvent.IReachabilityEvent:
                return true;
            case DisassociatedEvent dropped when _byHost.ContainsKey(dropped.RemoteAddress):
                Tell(dropped.RemoteAddress, RemoteInstanceActor.HostEvent.LinkDropped);
                // A link can drop while both processes live (one of two links between them closing, a connection reset):
                // the agent offers again when it sees its link come up, but it may never see that. Asked, it offers.
                Timers.StartSingleTimer(dropped.RemoteAddress, new Probe(dropped.RemoteAddress), TimeSpan.FromSeconds(1));
                return true;
            case DisassociatedEvent:
                return true;
            case Probe probe when _byHost.TryGetValue(probe.Host, out var taken)
                                  && AkkaCluster.Get(Context.System).State.Members.Any(m => m.UniqueAddress.Equals(taken.Member))
                                  && !AkkaCluster.Get(Context.System).State.Unreachable.Any(m => m.UniqueAddress.Equals(taken.Member)):
                Context.ActorSelection(new RootActorPath(probe.Host) / "user" / HostAgentActor.Name).Tell(WorkerProtocol.OfferWanted.Instance);
                return true;
            case Probe:
                return true;
            case ClusterEvent.MemberUp up:
                _up[up.Member.UniqueAddress] = up.Member;
                if (up.Member.HasRole(ClusterSettings.HostRole) && !IsTaken(up.Member))
                    Context.ActorSelection(new RootActorPath(up.Member.Address) / "user" / HostAgentActor.Name).Tell(WorkerProtocol.OfferWanted.Instance);
                return true;
            case ClusterEvent.MemberRemoved gone:
                _up.Remove(gone.Member.UniqueAddress);
                if (IsTaken(gone.Member)) Forget(gone.Member.Address);
                return true;
            case ClusterEvent.IMemberEvent gone when gone is ClusterEvent.MemberLeft or ClusterEvent.MemberExited or ClusterEvent.MemberDowned:
                _up.Remove(gone.Member.UniqueAddress);
                return true;
            case ClusterEvent.IMemberEvent:
                return true;
            case ClusterEvent.CurrentClusterState:
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// An offer from a host agent that is up. From the member whose offer was taken, it means its link is up
    /// again, and it lists what the agent offers now (a cluster-unique worker comes and goes); from a new process
    /// at that address (a new incarnation, which can be up here before the old one's removal is), the old one's
    /// instances go and its offer is taken.
    /// </summary>
    private void Offered(Member member, WorkerProtocol.Offer offer)
    {
        var host = member.Address;
        if (_byHost.TryGetValue(host, out var taken))
        {
            if (taken.Member.Equals(member.UniqueAddress))
            {
                Update(host, taken.Instances, offer);
                if (!AkkaCluster.Get(Context.System).State.Unreachable.Contains(member)) Tell(host, RemoteInstanceActor.HostEvent.Reachable);
                return;
            }
            Forget(host);
        }
        Take(member.UniqueAddress, offer);
    }

    /// <summary>Each worker of a new member's offer becomes an instance in the registry.</summary>
    private void Take(UniqueAddress member, WorkerProtocol.Offer offer)
    {
        var instances = new Dictionary<WorkerProtocol.OfferedWorker, IActorRef>();
        _byHost[member.Address] = (member, instances);
        Update(member.Address, instances, offer);
    }

    /// <summary>The host's <paramref name="instances"/> follow its <paramref name="offer"/>: a worker it offers no more goes, a new one is added.</summary>
    private void Update(Address host, Dictionary<WorkerProtocol.OfferedWorker, IActorRef> instances, WorkerProtocol.Offer offer)
    {
        var offered = offer.Workers.Where(w => w.Pool.Path.Address.Equals(host) && w.MaxInFlight > 0).ToHashSet();
        var withdrawn = instances.Keys.Where(worker => !offered.Contains(worker)).ToArray();
        foreach (var worker in withdrawn)
        {
            instances.Remove(worker, out var instance);
            instance!.Tell(RemoteInstanceActor.HostEvent.Withdrawn);
        }
        var added = offered.Where(worker => !instances.ContainsKey(worker)).ToArray();
        foreach (var worker in added)
            instances[worker] = Context.ActorOf(Props.Create(() => new RemoteInstanceActor(registry, worker, host, spare: preferLocal)));
        if (added.Length + withdrawn.Length > 0)
            _log.Info("host agent {Host} offers {Workers}", host, offered.Count == 0 ? "no worker" : string.Join(", ", offered.Select(w => w.Key is null ? w.Name : $"{w.Name}[{w.Key}]")));
    }

    /// <summary>The host agent's instances go: it left, or a new process took its address.</summary>
    private void Forget(Address host)
    {
        Tell(host, RemoteInstanceActor.HostEvent.Left);
        _byHost.Remove(host);
    }

    /// <summary>Whether <paramref name="member"/> is the one whose offer was taken, not an older or newer process at its address.</summary>
    private bool IsTaken(Member member) => _byHost.TryGetValue(member.Address, out var taken) && taken.Member.Equals(member.UniqueAddress);

    /// <summary>The member at <paramref name="address"/> if it is up with the host role.</summary>
    private Member? UpHost(Address address) => _up.Values.FirstOrDefault(m => m.Address.Equals(address) && m.HasRole(ClusterSettings.HostRole));

    /// <summary>Whether <paramref name="address"/> is a member joining the cluster with the host role.</summary>
    private static bool IsHostMember(Address address) =>
        AkkaCluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(address) && m.HasRole(ClusterSettings.HostRole) && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp);

    private void Tell(Address host, RemoteInstanceActor.HostEvent change)
    {
        if (_byHost.TryGetValue(host, out var taken))
            foreach (var instance in taken.Instances.Values) instance.Tell(change);
    }
}
