using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;

namespace Packet.Actors.Cluster;

/// <summary>
/// A cluster-unique worker (<see cref="WorkerAttribute.ClusterUnique"/>) on the host agent that runs it: Akka.Cluster.Tools'
/// cluster singleton, which a <see cref="ClusterSingletonManager"/> on every agent keeps on the oldest agent up. It starts
/// the worker in its agent's reactor, and has the agent offer it to every master (<see cref="HostAgentActor.Serve"/>).
/// Told to hand over (its agent leaves), it has the agent withdraw the offer, deletes the worker and stops; only then
/// does the next agent's start. An agent that is lost instead (killed, cut off) has its worker started on the next agent
/// once the cluster has removed it, and the split-brain resolver's margin has passed (README, "One instance in the cluster").
/// </summary>
internal sealed class UniqueWorkerActor(Reactor reactor, HostAgentActor.Served worker, IActorRef agent) : ActorBase, IWithUnboundedStash
{
    /// <summary>The singleton's stop message, from its manager: the agent leaves, and the worker moves to the next.</summary>
    internal sealed class Handover
    {
        public static readonly Handover Instance = new();
    }

    /// <summary>The worker's start ended, with <paramref name="Error"/> if it failed.</summary>
    private sealed record Started(Exception? Error);

    /// <summary>The worker's delete ended, with <paramref name="Error"/> if it failed.</summary>
    private sealed record Deleted(Exception? Error);

    private readonly ILoggingAdapter _log = Context.GetLogger();

    public IStash Stash { get; set; } = null!;

    /// <summary>The name of the singleton manager of <paramref name="worker"/>, the same on every agent.</summary>
    public static string ManagerName(string worker) => $"unique-{Uri.EscapeDataString(worker)}";

    protected override void PreStart()
    {
        _log.Info("cluster-unique worker {Worker} starts on this host agent", worker.Name);
        reactor.StartWorkerAsync(worker.Name).PipeTo(Self, success: () => new Started(null), failure: error => new Started(error));
    }

    /// <summary>Starting the worker; a hand-over waits for the start to end.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Started started:
                // A start that failed leaves the worker in the agent's registry, which restarts it as it restarts any WorkerHost.
                if (started.Error is { } error) _log.Warning("cluster-unique worker {Worker} did not start at once: {Error}", worker.Name, error.Message);
                agent.Tell(new HostAgentActor.Serve(worker));
                Stash.UnstashAll();
                Context.Become(Serving);
                return true;
            case Handover:
                Stash.Stash();
                return true;
            default:
                return false;
        }
    }

    /// <summary>The worker runs here and is offered, until the hand-over.</summary>
    private bool Serving(object message)
    {
        switch (message)
        {
            case Handover:
                _log.Info("cluster-unique worker {Worker} is handed over to the next host agent", worker.Name);
                agent.Tell(new HostAgentActor.Withdraw(worker));
                reactor.DeleteWorkerAsync(worker.Name).PipeTo(Self, success: () => new Deleted(null), failure: error => new Deleted(error));
                Context.Become(HandingOver);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Withdrawn from the offer; it stops once the worker's process has ended.</summary>
    private bool HandingOver(object message)
    {
        switch (message)
        {
            case Deleted deleted:
                if (deleted.Error is { } error) _log.Warning("cluster-unique worker {Worker} was not deleted cleanly: {Error}", worker.Name, error.Message);
                Context.Stop(Self);
                return true;
            case Handover:
                return true;
            default:
                return false;
        }
    }
}
