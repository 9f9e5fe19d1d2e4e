using Akka.Actor;
using Akka.Event;
using Akka.Remote;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using MemberStatus = Akka.Cluster.MemberStatus;

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
/// offers each time its link to a master comes up, so a connection that dropped and came back is used
/// again. A link that comes up to the same address is not enough: it may be a new process there, a new
/// incarnation of the member, and the old one's instance must not take asks meant for it.
/// </remarks>
internal sealed class ClusterMasterActor(IActorRef registry, bool preferLocal) : ActorBase
{
    /// <summary>The actor's name in its node.</summary>
    public const string Name = "packet-master";

    private readonly Dictionary<Address, List<IActorRef>> _byHost = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _refusals = new();

    protected override void PreStart()
    {
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
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
            case WorkerProtocol.Offer when _byHost.ContainsKey(Sender.Path.Address) && ClusterNode.IsUp(Context.System, Sender.Path.Address, ClusterSettings.HostRole):
                if (!AkkaCluster.Get(Context.System).State.Unreachable.Any(m => m.Address.Equals(Sender.Path.Address)))
                    Tell(Sender.Path.Address, RemoteInstanceActor.HostEvent.Reachable); // its link is up again
                return true;
            case WorkerProtocol.Offer offer when ClusterNode.IsUp(Context.System, Sender.Path.Address, ClusterSettings.HostRole):
                Take(Sender.Path.Address, offer);
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
            case ClusterEvent.UnreachableMember lost:
                Tell(lost.Member.Address, RemoteInstanceActor.HostEvent.Unreachable);
                return true;
            case ClusterEvent.ReachableMember back:
                Tell(back.Member.Address, RemoteInstanceActor.HostEvent.Reachable);
                return true;
            case DisassociatedEvent dropped:
                Tell(dropped.RemoteAddress, RemoteInstanceActor.HostEvent.LinkDropped);
                return true;
            case ClusterEvent.MemberUp up when up.Member.HasRole(ClusterSettings.HostRole) && !_byHost.ContainsKey(up.Member.Address):
                Context.ActorSelection(new RootActorPath(up.Member.Address) / "user" / HostAgentActor.Name).Tell(WorkerProtocol.OfferWanted.Instance);
                return true;
            case ClusterEvent.MemberUp:
                return true;
            case ClusterEvent.MemberRemoved gone:
                Tell(gone.Member.Address, RemoteInstanceActor.HostEvent.Left);
                _byHost.Remove(gone.Member.Address);
                return true;
            case ClusterEvent.CurrentClusterState:
                return true;
            default:
                return false;
        }
    }

    /// <summary>Each worker of a host's first offer becomes an instance in the registry.</summary>
    private void Take(Address host, WorkerProtocol.Offer offer)
    {
        if (_byHost.ContainsKey(host)) return;
        var instances = new List<IActorRef>();
        foreach (var worker in offer.Workers.Where(w => w.Pool.Path.Address.Equals(host) && w.MaxInFlight > 0))
        {
            instances.Add(Context.ActorOf(Props.Create(() => new RemoteInstanceActor(registry, worker, host, spare: preferLocal))));
        }
        _byHost[host] = instances;
        _log.Info("host agent {Host} offers {Workers}", host, string.Join(", ", offer.Workers.Select(w => w.Key is null ? w.Name : $"{w.Name}[{w.Key}]")));
    }

    /// <summary>Whether <paramref name="address"/> is a member joining the cluster with the host role.</summary>
    private static bool IsHostMember(Address address) =>
        AkkaCluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(address) && m.HasRole(ClusterSettings.HostRole) && m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp);

    private void Tell(Address host, RemoteInstanceActor.HostEvent change)
    {
        if (_byHost.TryGetValue(host, out var instances))
            foreach (var instance in instances) instance.Tell(change);
    }
}
