using Akka.Actor;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// Sends a worker's outcomes to its proxy, inside the WorkerHost. The outcomes that pile up in its
/// mailbox while it sends travel together; one that arrives alone leaves alone, at once. It tells its
/// parent, the <see cref="WorkerActor"/>, how many it has sent.
/// </summary>
internal sealed class OutboxActor(IActorRef proxy, int maxBytes) : ActorBase
{
    /// <summary>To the parent: <paramref name="Count"/> more outcomes are on their way to the proxy.</summary>
    internal sealed record Sent(int Count);

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    private readonly Batch<WorkerProtocol.Outcome> _outcomes = new(maxBytes, outcome => outcome.Size);

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Outcome outcome:
                if (_outcomes.IsEmpty) Self.Tell(Flush.Instance); // behind the outcomes already waiting
                if (_outcomes.Add(outcome) is { } full) Send(full);
                return true;
            case Flush:
                if (!_outcomes.IsEmpty) Send(_outcomes.Take());
                return true;
            default:
                return false;
        }
    }

    private void Send(WorkerProtocol.Outcome[] outcomes)
    {
        proxy.Tell(new WorkerProtocol.Outcomes(outcomes), Context.Parent); // from the worker, the only sender its proxy takes outcomes from
        Context.Parent.Tell(new Sent(outcomes.Length));
    }
}
