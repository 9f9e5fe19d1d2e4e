using Akka.Actor;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Everything that crosses the master ↔ WorkerHost link: ids, strings, byte arrays and actor
/// references only. Payloads are bytes made by <see cref="PayloadSerializer"/>; the messages
/// themselves are written by <see cref="WorkerProtocolSerializer"/>. A payload read off the link is a
/// slice of its message's array, which Akka.Remote allocates for that message alone.
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>Marks the messages of this protocol, which Akka.Remote hands to <see cref="WorkerProtocolSerializer"/>.</summary>
    internal interface IMessage;

    /// <summary>Host → master, once its actor system is up: "I am instance <paramref name="Instance"/> of <paramref name="Name"/>, and here is the proof that you started me."</summary>
    internal sealed record Register(string Secret, long Instance, string Name, IActorRef Worker) : IMessage;

    /// <summary>
    /// Master → host: registration accepted; the worker may start. Its <see cref="Work"/> comes from
    /// <paramref name="Asks"/>, the master's registry, which takes its <see cref="Outcomes"/>; everything
    /// else passes between it and <paramref name="Proxy"/>.
    /// </summary>
    internal sealed record Registered(IActorRef Proxy, IActorRef Asks) : IMessage;

    /// <summary>
    /// Worker → master, once <see cref="Worker.WorkerInit"/> has returned: the worker takes asks from
    /// now on. Until then the master hands it none, so an ask never waits behind a slow start, nor
    /// times out and restarts a worker that is still starting.
    /// </summary>
    internal sealed record Ready : IMessage
    {
        public static readonly Ready Instance = new();
    }

    /// <summary>
    /// Master → worker: run <see cref="Worker.ReceiveData"/> on each job, in order, and answer each with
    /// an <see cref="Outcome"/>. The asks that reach a proxy together travel in one <see cref="Work"/>.
    /// </summary>
    internal sealed record Work(Job[] Jobs) : IMessage
    {
        public override string ToString() => $"Work({Jobs.Length} jobs)";
    }

    /// <summary>One ask, as the worker sees it.</summary>
    internal sealed record Job(long RequestId, ReadOnlyMemory<byte> Payload)
    {
        public override string ToString() => $"Job({RequestId}, {Payload.Length} bytes)";
    }

    /// <summary>Master → worker: a request from another worker; no answer expected.</summary>
    internal sealed record Deliver(ReadOnlyMemory<byte> Payload) : IMessage
    {
        public override string ToString() => $"Deliver({Payload.Length} bytes)";
    }

    /// <summary>Worker → master: the outcomes of jobs, as many in one message as were ready together.</summary>
    internal sealed record Outcomes(Outcome[] Items) : IMessage
    {
        public override string ToString() => $"Outcomes({Items.Length})";
    }

    /// <summary>
    /// The answer to one <see cref="Job"/>: the reply's <paramref name="Payload"/>, or the
    /// <paramref name="Error"/> that says why there is none.
    /// </summary>
    internal sealed record Outcome(long RequestId, ReadOnlyMemory<byte>? Payload, string? Error)
    {
        public override string ToString() => Error is null ? $"Outcome({RequestId}, {Payload?.Length ?? 0} bytes)" : $"Outcome({RequestId}, error)";

        /// <summary>What the outcome weighs in a <see cref="Batch{T}"/>: its payload, or its error text.</summary>
        public int Size => Payload?.Length ?? (Error?.Length ?? 0) * 3;
    }

    /// <summary>Worker → master: <see cref="Worker.SendData"/>, an unsolicited message for the worker's proxy.</summary>
    internal sealed record Push(ReadOnlyMemory<byte> Payload) : IMessage
    {
        public override string ToString() => $"Push({Payload.Length} bytes)";
    }

    /// <summary>Worker → master: <see cref="Worker.SendRequest"/>, to be delivered to another worker.</summary>
    internal sealed record Forward(string Worker, string? Key, ReadOnlyMemory<byte> Payload) : IMessage
    {
        public override string ToString() => $"Forward({Worker}, {Key}, {Payload.Length} bytes)";
    }

    /// <summary>
    /// Cluster only, from a host agent to a master: the agent's workers, each as one instance the master
    /// may send <see cref="Work"/> to (<see cref="OfferedWorker.Pool"/>), holding at most its own max-in-flight.
    /// </summary>
    internal sealed record Offer(OfferedWorker[] Workers) : IMessage
    {
        public override string ToString() => $"Offer({string.Join(", ", Workers.Select(w => w.Key is null ? w.Name : $"{w.Name}[{w.Key}]"))})";
    }

    /// <summary>Cluster only, from a host agent to a master: the agent is leaving; send it no new work, and await what it holds.</summary>
    internal sealed record Draining : IMessage
    {
        public static readonly Draining Instance = new();
    }

    /// <summary>
    /// Cluster only, from a master to a host agent it sees up and has no offer from: send one. An agent that
    /// offered before the master saw it up is asked again this way.
    /// </summary>
    internal sealed record OfferWanted : IMessage
    {
        public static readonly OfferWanted Instance = new();
    }

    /// <summary>One worker of an <see cref="Offer"/>: its name and key, how many asks it takes at once, and the agent's actor that takes its work.</summary>
    internal sealed record OfferedWorker(string Name, string? Key, int MaxInFlight, IActorRef Pool);
}
