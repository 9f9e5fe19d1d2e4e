using Akka.Actor;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Everything that crosses the master ↔ WorkerHost link: ids, strings, byte arrays and actor
/// references only. Payloads are bytes made by <see cref="PayloadSerializer"/>.
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>Host → master, once its actor system is up: "I am instance <paramref name="Instance"/> of <paramref name="Name"/>, and here is the proof that you started me."</summary>
    internal sealed record Register(string Secret, long Instance, string Name, IActorRef Worker);

    /// <summary>Master → host: registration accepted; the worker may start.</summary>
    internal sealed record Registered(IActorRef Proxy);

    /// <summary>Master → host: registration refused; the host exits.</summary>
    internal sealed record Refused(string Reason);

    /// <summary>Master → worker: run <see cref="Worker.ReceiveData"/> and answer with <see cref="Done"/> or <see cref="Failed"/>.</summary>
    internal sealed record Work(long RequestId, byte[] Payload)
    {
        public override string ToString() => $"Work({RequestId}, {Payload.Length} bytes)";
    }

    /// <summary>Master → worker: a request from another worker; no answer expected.</summary>
    internal sealed record Deliver(byte[] Payload)
    {
        public override string ToString() => $"Deliver({Payload.Length} bytes)";
    }

    /// <summary>Worker → master: the answer to <see cref="Work"/>.</summary>
    internal sealed record Done(long RequestId, byte[] Payload)
    {
        public override string ToString() => $"Done({RequestId}, {Payload.Length} bytes)";
    }

    /// <summary>Worker → master: <see cref="Work"/> failed; <paramref name="Error"/> says why.</summary>
    internal sealed record Failed(long RequestId, string Error);

    /// <summary>Worker → master: <see cref="Worker.SendData"/>, an unsolicited message for the worker's proxy.</summary>
    internal sealed record Push(byte[] Payload)
    {
        public override string ToString() => $"Push({Payload.Length} bytes)";
    }

    /// <summary>Worker → master: <see cref="Worker.SendRequest"/>, to be delivered to another worker.</summary>
    internal sealed record Forward(string Worker, string? Key, byte[] Payload)
    {
        public override string ToString() => $"Forward({Worker}, {Key}, {Payload.Length} bytes)";
    }
}
