using System.Diagnostics;
using Akka.Actor;
using Akka.Remote;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using MemberStatus = Akka.Cluster.MemberStatus;

namespace Packet.Actors.Cluster;

/// <summary>
/// A host agent's cluster node's actor (<c>/user/packet-host</c>): offers the agent's workers to every
/// master that comes up, one <see cref="PoolActor"/> per worker taking that master's work.
/// </summary>
internal sealed class HostAgentActor(IActorRef registry, IReadOnlyList<HostAgentActor.Served> workers, Func<long> nextRequestId, ClusterNode node) : ActorBase
{
    /// <summary>The actor's name in its node.</summary>
    public const string Name = "packet-host";

    /// <summary>A worker the agent runs: its name and key, and the asks all its instances hold at once.</summary>
    internal sealed record Served(string Name, string? Key, int MaxInFlight)
    {
        /// <summary>The workers <paramref name="reactor"/> starts by itself: its root's, but those marked <c>NoAutoLoad</c>.</summary>
        public static IReadOnlyList<Served> By(Reactor reactor)
        {
            var workers = reactor.WorkersRuntime;
            return workers.Catalog.Values.Where(type => !type.NoAutoLoad).OrderBy(type => type.Name)
                .Select(type => new Served(type.Name, null, type.Instances * workers.MaxInFlight(type))).ToArray();
        }
    }

    /// <summary>
    /// Ask, before the agent leaves: masters are told it is leaving (they send it no new work), and the
    /// answer is <see cref="Drained"/> once every ask it took has been answered.
    /// </summary>
    internal sealed class Drain
    {
        public static readonly Drain Instance = new();
    }

    /// <summary>The answer to <see cref="Drain"/>; also a pool's, to its agent.</summary>
    internal sealed class Drained
    {
        public static readonly Drained Instance = new();
    }

    private WorkerProtocol.Offer _offer = new([]);
    private IActorRef? _drainAsker;
    private int _pools;

    protected override void PreStart()
    {
        _offer = new WorkerProtocol.Offer(workers.Select(w =>
            new WorkerProtocol.OfferedWorker(w.Name, w.Key, w.MaxInFlight, Context.ActorOf(Props.Create(() => new PoolActor(registry, w.Name, w.Key, nextRequestId, node))))).ToArray());
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
    }

    protected override void PostStop()
    {
        AkkaCluster.Get(Context.System).Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private void Offer(Address master) => ToMaster(master, _offer);

    /// <summary>The masters this node sees up.</summary>
    private static IEnumerable<Address> MastersUp() =>
        AkkaCluster.Get(Context.System).State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole(ClusterSettings.MasterRole)).Select(m => m.Address);

    /// <summary>Tells a master's <see cref="ClusterMasterActor"/>.</summary>
    private static void ToMaster(Address master, WorkerProtocol.IMessage message) =>
        Context.ActorSelection(new RootActorPath(master) / "user" / ClusterMasterActor.Name).Tell(message);

    protected override bool Receive(object message)
    {
        switch (message)
        {
            // A master takes offers only from agents that are up: this one offers once it is, to the masters up then and to each that comes up later.
            case ClusterEvent.MemberUp up when up.Member.Address.Equals(AkkaCluster.Get(Context.System).SelfAddress):
                foreach (var master in MastersUp()) Offer(master);
                return true;
            case ClusterEvent.MemberUp up when up.Member.HasRole(ClusterSettings.MasterRole) && AkkaCluster.Get(Context.System).SelfMember.Status == MemberStatus.Up:
                Offer(up.Member.Address);
                return true;
            case ClusterEvent.MemberUp or ClusterEvent.CurrentClusterState:
                return true;
            // A master that saw this agent come up before it took its offer: whatever the master's status here.
            case WorkerProtocol.OfferWanted when AkkaCluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(Sender.Path.Address) && m.HasRole(ClusterSettings.MasterRole)):
                Offer(Sender.Path.Address);
                return true;
            case WorkerProtocol.OfferWanted:
                return true;
            // A link to a master came up again (it had dropped, and the master took this agent for lost): offered again, it is used again.
            case AssociatedEvent linked when AkkaCluster.Get(Context.System).SelfMember.Status == MemberStatus.Up
                                             && ClusterNode.IsUp(Context.System, linked.RemoteAddress, ClusterSettings.MasterRole):
                Offer(linked.RemoteAddress);
                return true;
            case AssociatedEvent:
                return true;
            case Drain:
                _drainAsker = Sender;
                foreach (var master in MastersUp()) ToMaster(master, WorkerProtocol.Draining.Instance);
                _pools = _offer.Workers.Length;
                if (_pools == 0) _drainAsker.Tell(Drained.Instance);
                foreach (var worker in _offer.Workers) worker.Pool.Tell(Drain.Instance);
                return true;
            case Drained when --_pools == 0:
                _drainAsker?.Tell(Drained.Instance);
                return true;
            case Drained:
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Takes one worker's <see cref="WorkerProtocol.Work"/> from masters that are up, turns each job into an
    /// ask on the agent's own registry (which picks the instance, and holds the agent's limits and
    /// deadline), and answers each master with <see cref="WorkerProtocol.Outcomes"/> under its own request ids.
    /// </summary>
    internal sealed class PoolActor(IActorRef registry, string worker, string? key, Func<long> nextRequestId, ClusterNode node) : ActorBase
    {
        private readonly Dictionary<long, (IActorRef Master, long RequestId)> _pending = new();
        private readonly Dictionary<IActorRef, List<WorkerProtocol.Outcome>> _answered = new();
        private bool _draining;

        protected override bool Receive(object message)
        {
            switch (message)
            {
                case WorkerProtocol.Work work when node.IsMaster(Sender.Path.Address):
                    foreach (var job in work.Jobs)
                    {
                        var id = NewId();
                        _pending[id] = (Sender, job.RequestId);
                        registry.Tell(new WorkersActor.Ask(id, worker, key, job.Payload.ToArray(), Stopwatch.GetTimestamp(), Lasting: false), Self);
                    }
                    return true;
                case WorkerProtocol.Work:
                    return true; // from a node that is not a master that is up, with a master's certificate: dropped
                case WorkersActor.Answer answer:
                    Answered(answer);
                    Send();
                    return true;
                case WorkersActor.Answers answers:
                    foreach (var each in answers.Items) Answered(each);
                    Send();
                    return true;
                case Drain when !_draining:
                    _draining = true;
                    if (_pending.Count == 0) Context.Parent.Tell(Drained.Instance);
                    return true;
                case Drain:
                    return true;
                default:
                    return false;
            }
        }

        private void Answered(WorkersActor.Answer answer)
        {
            if (!_pending.Remove(answer.RequestId, out var asked)) return;
            if (!_answered.TryGetValue(asked.Master, out var outcomes)) _answered[asked.Master] = outcomes = [];
            outcomes.Add(new WorkerProtocol.Outcome(asked.RequestId, answer.Payload, answer.Error));
        }

        private void Send()
        {
            if (_answered.Count == 0) return;
            foreach (var (master, outcomes) in _answered) master.Tell(new WorkerProtocol.Outcomes([.. outcomes]), Self);
            _answered.Clear();
            if (_draining && _pending.Count == 0) Context.Parent.Tell(Drained.Instance);
        }

        /// <summary>A request id of the agent's reactor (63 random bits) that none of this pool's pending asks has.</summary>
        private long NewId()
        {
            long id;
            do id = nextRequestId();
            while (_pending.ContainsKey(id));
            return id;
        }
    }
}
