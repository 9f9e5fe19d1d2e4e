using Akka.Actor;
using Akka.Event;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using MemberStatus = Akka.Cluster.MemberStatus;

namespace Packet.Actors.Cluster;

/// <summary>
/// Holds every member to the role its certificate was issued for. A member that claims the master role
/// is dialed (if this node has no link to it yet) and, once its certificate is seen, downed if that
/// certificate is not a master's: the split-brain resolver counts masters only, so a host's credentials
/// (which its worker code can read) must not buy a vote. Every node runs it; one down is enough.
/// </summary>
internal sealed class RoleCheckActor(ClusterCredentials credentials) : ActorBase, IWithTimers
{
    /// <summary>Its name, under <c>/user</c> of every node's actor system.</summary>
    public const string Name = "roles";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, int> _unseen = new(); // claimed masters whose certificate this node has not seen yet, with the dials made

    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class Recheck
    {
        public static readonly Recheck Instance = new();
    }

    protected override void PreStart() =>
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => AkkaCluster.Get(Context.System).Unsubscribe(Self);

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case ClusterEvent.MemberRemoved gone:
                _unseen.Remove(gone.Member.Address);
                credentials.Forget(gone.Member.Address);
                return true;
            case ClusterEvent.IMemberEvent changed when changed.Member.HasRole(ClusterSettings.MasterRole)
                                                       && changed.Member.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up
                                                       && !changed.Member.Address.Equals(AkkaCluster.Get(Context.System).SelfAddress):
                if (!_unseen.ContainsKey(changed.Member.Address)) _unseen[changed.Member.Address] = 0;
                Check();
                return true;
            case Recheck:
                Check();
                return true;
            case ClusterEvent.IMemberEvent or ActorIdentity:
                return true;
            default:
                return false;
        }
    }

    /// <summary>Downs the claimed masters whose certificate is another role's, and dials those not seen yet (for up to a minute each).</summary>
    private void Check()
    {
        foreach (var (address, dials) in _unseen.ToArray())
        {
            switch (credentials.RoleAt(address))
            {
                case ClusterSettings.MasterRole:
                    _unseen.Remove(address);
                    break;
                case var other when other is not null:
                    _unseen.Remove(address);
                    _log.Warning("downed {Node}: it joined as a master with a certificate issued for the role {Role}", address, other);
                    AkkaCluster.Get(Context.System).Down(address);
                    break;
                case null when dials < 240:
                    _unseen[address] = dials + 1;
                    Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(new Identify(null)); // opens this node's link to it
                    break;
                default:
                    _unseen.Remove(address);
                    _log.Warning("could not see the certificate of {Node}, which claims the master role: host agents here take no work from it", address);
                    break;
            }
        }
        if (_unseen.Count > 0) Timers.StartSingleTimer(Recheck.Instance, Recheck.Instance, TimeSpan.FromMilliseconds(250));
    }
}
