using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Remote;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;
using AkkaCluster = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;
using Member = Akka.Cluster.Member;
using UniqueAddress = Akka.Cluster.UniqueAddress;

namespace Packet.Actors.Cluster;

/// <summary>
/// A host agent's cluster node's actor (<c>/user/packet-host</c>): offers the agent's workers to every
/// master that comes up, one <see cref="PoolActor"/> per worker taking that master's work. Each of its
/// cluster-unique workers has a <see cref="ClusterSingletonManager"/> here, as on every agent: where it runs
/// its <see cref="UniqueWorkerActor"/>, that worker joins the offer (<see cref="Serve"/>) until it is handed over.
/// </summary>
internal sealed class HostAgentActor(Reactor reactor, IReadOnlyList<HostAgentActor.Served> workers, ClusterNode node) : ActorBase
{
    /// <summary>The actor's name in its node.</summary>
    public const string Name = "packet-host";

    /// <summary>A worker the agent runs: its name and key, and the asks all its instances hold at once.</summary>
    internal sealed record Served(string Name, string? Key, int MaxInFlight)
    {
        /// <summary>The workers <paramref name="reactor"/> starts by itself: its root's, but those marked <c>NoAutoLoad</c> or <c>ClusterUnique</c>.</summary>
        public static IReadOnlyList<Served> By(Reactor reactor) => Of(reactor, reactor.WorkersRuntime.StartsByItself);

        /// <summary>The cluster-unique workers of <paramref name="reactor"/>'s root, which run on one agent of the cluster at a time.</summary>
        public static IReadOnlyList<Served> Unique(Reactor reactor) => Of(reactor, type => type.ClusterUnique);

        private static Served[] Of(Reactor reactor, Func<WorkerType, bool> which)
        {
            var workers = reactor.WorkersRuntime;
            return workers.Catalog.Values.Where(which).OrderBy(type => type.Name)
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

    /// <summary>From this agent's <see cref="UniqueWorkerActor"/>: the cluster-unique <paramref name="Worker"/> runs here now, and is offered.</summary>
    internal sealed record Serve(Served Worker);

    /// <summary>
    /// From this agent's <see cref="UniqueWorkerActor"/>, as it hands <paramref name="Worker"/> over: it is offered no more. That
    /// happens as the agent leaves, when its offers no longer count: masters see the worker go with the agent.
    /// </summary>
    internal sealed record Withdraw(Served Worker);

    /// <summary>What the agent offers: each worker it serves, with the pool that takes its work.</summary>
    private readonly List<WorkerProtocol.OfferedWorker> _offered = [];

    /// <summary>
    /// The members this agent has seen come up and not yet go, this one among them, from the cluster's events. Not the
    /// cluster's read view (<c>Cluster.State</c>), which its own subscription updates, and may not have when an event comes here.
    /// </summary>
    private readonly Dictionary<UniqueAddress, Member> _up = new();

    protected override void PreStart()
    {
        foreach (var worker in workers) Add(worker);
        var agent = Self;
        foreach (var unique in Served.Unique(reactor))
        {
            var settings = ClusterSingletonManagerSettings.Create(Context.System).WithRole(ClusterSettings.HostRole).WithSingletonName("worker");
            Context.ActorOf(ClusterSingletonManager.Props(Props.Create(() => new UniqueWorkerActor(reactor, unique, agent)), UniqueWorkerActor.Handover.Instance, settings),
                UniqueWorkerActor.ManagerName(unique.Name));
        }
        AkkaCluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
    }

    protected override void PostStop()
    {
        AkkaCluster.Get(Context.System).Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>The agent serves <paramref name="worker"/>: a pool takes its work.</summary>
    private void Add(Served worker) =>
        _offered.Add(new WorkerProtocol.OfferedWorker(worker.Name, worker.Key, worker.MaxInFlight,
            Context.ActorOf(Props.Create(() => new PoolActor(reactor.Registry!, worker.Name, worker.Key, reactor.NextRequestId, node)))));

    /// <summary>The agent serves <paramref name="worker"/> no more: its pool stops; <see langword="null"/> if it did not serve it.</summary>
    private IActorRef? Remove(Served worker)
    {
        if (_offered.Find(w => w.Name == worker.Name && w.Key == worker.Key) is not { } offered) return null;
        _offered.Remove(offered);
        Context.Stop(offered.Pool);
        return offered.Pool;
    }

    private void Offer(Address master) => ToMaster(master, new WorkerProtocol.Offer([.. _offered]));

    /// <summary>Offers what the agent serves now to every master up, once the agent is up itself.</summary>
    private void OfferAll()
    {
        if (!SelfUp) return;
        foreach (var master in MastersUp()) Offer(master);
    }

    /// <summary>Whether this agent has seen itself come up (and not yet leave).</summary>
    private bool SelfUp => _up.ContainsKey(AkkaCluster.Get(Context.System).SelfUniqueAddress);

    /// <summary>The masters this agent has seen come up.</summary>
    private IEnumerable<Address> MastersUp() => _up.Values.Where(m => m.HasRole(ClusterSettings.MasterRole)).Select(m => m.Address);

    /// <summary>Tells a master's <see cref="ClusterMasterActor"/>.</summary>
    private static void ToMaster(Address master, WorkerProtocol.IMessage message) =>
        Context.ActorSelection(new RootActorPath(master) / "user" / ClusterMasterActor.Name).Tell(message);

    /// <summary>The agent's first state: it serves its workers, and offers them to every master that comes up.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Serve serve:
                Add(serve.Worker);
                OfferAll();
                return true;
            case Withdraw withdraw:
                if (Remove(withdraw.Worker) is not null) OfferAll();
                return true;
            case Drain:
                foreach (var master in MastersUp()) ToMaster(master, WorkerProtocol.Draining.Instance);
                var undrained = _offered.Select(w => w.Pool).ToHashSet();
                foreach (var pool in undrained) pool.Tell(Drain.Instance);
                var asker = Sender;
                if (undrained.Count == 0) asker.Tell(Drained.Instance);
                Context.Become(next => Draining(next, asker, undrained));
                return true;
            default:
                return Offering(message);
        }
    }

    /// <summary>
    /// SIGINT or SIGTERM: masters send the agent no new work, and <paramref name="asker"/> gets <see cref="Drained"/> once
    /// every pool of <paramref name="undrained"/> has answered what it holds. A cluster-unique worker that comes here now
    /// is not offered: it is handed over again as the agent leaves.
    /// </summary>
    private bool Draining(object message, IActorRef asker, HashSet<IActorRef> undrained)
    {
        switch (message)
        {
            case Drained when undrained.Remove(Sender):
                if (undrained.Count == 0) asker.Tell(Drained.Instance);
                return true;
            case Withdraw withdraw:
                if (Remove(withdraw.Worker) is { } pool && undrained.Remove(pool) && undrained.Count == 0) asker.Tell(Drained.Instance);
                return true;
            case Drained or Drain or Serve:
                return true;
            default:
                return Offering(message);
        }
    }

    /// <summary>In every state: offers to masters as they and this agent come up, and whenever a master asks.</summary>
    private bool Offering(object message)
    {
        switch (message)
        {
            // A master takes offers only from agents that are up: this one offers once it is, to the masters up then and to each that comes up later.
            case ClusterEvent.MemberUp up:
                _up[up.Member.UniqueAddress] = up.Member;
                if (up.Member.UniqueAddress.Equals(AkkaCluster.Get(Context.System).SelfUniqueAddress)) OfferAll();
                else if (up.Member.HasRole(ClusterSettings.MasterRole) && SelfUp) Offer(up.Member.Address);
                return true;
            case ClusterEvent.IMemberEvent gone when gone is ClusterEvent.MemberLeft or ClusterEvent.MemberExited or ClusterEvent.MemberDowned or ClusterEvent.MemberRemoved:
                _up.Remove(gone.Member.UniqueAddress);
                return true;
            case ClusterEvent.IMemberEvent or ClusterEvent.CurrentClusterState:
                return true;
            // A master that saw this agent come up before it took its offer: whatever the master's status here.
            case WorkerProtocol.OfferWanted when AkkaCluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(Sender.Path.Address) && m.HasRole(ClusterSettings.MasterRole)):
                Offer(Sender.Path.Address);
                return true;
            case WorkerProtocol.OfferWanted:
                return true;
            // A link to a master came up again (it had dropped, and the master took this agent for lost): offered again, it is used again.
            case AssociatedEvent linked when SelfUp && MastersUp().Contains(linked.RemoteAddress):
                Offer(linked.RemoteAddress);
                return true;
            case AssociatedEvent:
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
