using Akka.Actor;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// Sends a worker's outcomes to the master's registry, inside the WorkerHost. The outcomes that pile up in its
/// mailbox while it sends travel together; one that arrives alone leaves alone, at once. It tells its
/// parent, the <see cref="WorkerActor"/>, how many it has sent.
/// </summary>
internal sealed class OutboxActor(IActorRef asks, int maxBytes) : ActorBase
{
    /// <summary>To the parent: <paramref name="Count"/> more outcomes are on their way to the master.</summary>
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
        asks.Tell(new WorkerProtocol.Outcomes(outcomes), Context.Parent); // from the worker, the only sender the registry takes its outcomes from
        Context.Parent.Tell(new Sent(outcomes.Length));
    }
}
