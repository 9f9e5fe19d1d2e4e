using Akka.Actor;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Cluster;

/// <summary>
/// In a master's cluster node: one host agent's offer of one worker, as an instance of it in the master's
/// registry. The registry sends it <see cref="WorkerProtocol.Work"/> and takes <see cref="WorkerProtocol.Outcomes"/>
/// from it, as from a local worker; it passes both across the cluster to and from the agent's
/// <c>pool</c>, and tells the registry when the host becomes unreachable, comes back, or leaves.
/// </summary>
internal sealed class RemoteInstanceActor(IActorRef registry, WorkerProtocol.OfferedWorker offered, Address host, bool spare) : ActorBase
{
    /// <summary>What <see cref="WorkerInfo.State"/> says of it.</summary>
    private string _state = "running";

    /// <summary>From <see cref="ClusterMasterActor"/>: what happened to the host.</summary>
    internal enum HostEvent
    {
        /// <summary>The failure detector lost it: what the instance holds fails.</summary>
        Unreachable,

        /// <summary>Its link dropped (its process died, or the connection broke): what the instance holds fails.</summary>
        LinkDropped,

        /// <summary>It is back: the instance takes asks again.</summary>
        Reachable,

        /// <summary>It is leaving: the instance answers what it holds, and takes no new asks.</summary>
        Draining,

        /// <summary>It left the cluster: the instance goes.</summary>
        Left,

        /// <summary>It offers the worker no more (a cluster-unique worker moved to another host): the instance goes.</summary>
        Withdrawn,
    }

    protected override void PreStart()
    {
        registry.Tell(new WorkersActor.AddInstance(offered.Name, offered.Key, offered.MaxInFlight, Self, spare, host.ToString()));
        registry.Tell(new WorkersActor.InstanceReady(Self, Self));
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Work work when Sender.Equals(registry):
                offered.Pool.Tell(work, Self);
                return true;
            case WorkerProtocol.Outcomes outcomes when Sender.Equals(offered.Pool):
                registry.Tell(outcomes, Self);
                return true;
            case HostEvent.Left:
                Down($"host {host} left the cluster", gone: true);
                Context.Stop(Self); // the registry forgets the instance
                return true;
            case HostEvent.Withdrawn:
                Down($"host {host} no longer runs worker {offered.Name}", gone: true);
                Context.Stop(Self);
                return true;
            case HostEvent.Unreachable:
                _state = "unreachable";
                Down($"host {host} is unreachable", gone: true);
                return true;
            case HostEvent.LinkDropped:
                _state = "unreachable";
                Down($"host {host} is unreachable: its link dropped", gone: true);
                return true;
            case HostEvent.Draining:
                _state = "draining";
                registry.Tell(new WorkersActor.InstanceDraining(Self));
                return true;
            case HostEvent.Reachable:
                if (_state == "unreachable") _state = "running";
                registry.Tell(new WorkersActor.InstanceReady(Self, Self));
                return true;
            case ProxyActor.Hung:
                // The agent's own registry restarts its hung WorkerHosts; here the asks it held fail, and it is used again.
                Down($"worker {offered.Name} on host {host} answered nothing for packet.workers.ask-timeout", gone: false);
                registry.Tell(new WorkersActor.InstanceReady(Self, Self));
                return true;
            case ProxyActor.Describe:
                Sender.Tell(new WorkerInfo(offered.Name, offered.Key, ProcessId: null, _state, host.ToString()));
                return true;
            case ProxyActor.Delete:
                Sender.Tell(ProxyActor.Deleted.Instance);
                Context.Stop(Self);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// The asks the instance holds fail with <paramref name="error"/>, except idempotent ones when the host is lost;
    /// when <paramref name="gone"/>, no ask waits for it until it is back.
    /// </summary>
    private void Down(string error, bool gone) => registry.Tell(new WorkersActor.InstanceDown(Self, error, gone ? error : null, Retry: gone));
}
