using Akka.Actor;
using Packet.Actors.Workers;

namespace Packet.Actors;

/// <summary>
/// The master-side proxy of one worker instance (Packet's <c>Packet::Pimp</c>). The master keeps one per
/// running instance; it receives what the worker sends with <see cref="Worker.SendData"/>. Replies to
/// <c>AskWorker</c> never pass through it: they are routed to the connection that asked, by request id,
/// so no proxy can deliver one client's reply to another.
/// </summary>
/// <remarks>
/// <see cref="MetaPimp"/> is the default. Name another with <see cref="WorkerAttribute.Proxy"/> to
/// multiplex or demultiplex what a worker pushes, for example to fan a worker's notices out to the
/// connections that subscribed to them (their <see cref="Connection.SendData(string)"/> is safe to call
/// from here). Hooks run on the proxy's actor, one at a time.
/// </remarks>
public abstract class Pimp
{
    private IActorRef _proxy = ActorRefs.Nobody;

    /// <summary>The master's reactor.</summary>
    public Reactor Reactor { get; private set; } = null!;

    /// <summary>The worker's name.</summary>
    public string WorkerName { get; private set; } = "";

    /// <summary>The worker's instance key, or <see langword="null"/>.</summary>
    public string? WorkerKey { get; private set; }

    /// <summary>Called once, on the proxy's actor, before the worker's first message.</summary>
    protected virtual void PimpInit() { }

    /// <summary>Called with each payload the worker sends with <see cref="Worker.SendData"/>.</summary>
    /// <param name="data">The payload.</param>
    protected abstract void ReceiveData(object? data);

    /// <summary>Sends <paramref name="data"/> to this worker instance's <see cref="Worker.ReceiveData"/>; its return value is dropped.</summary>
    /// <param name="data">A payload of an allowed type.</param>
    public void SendRequest(object? data) => _proxy.Tell(new ProxyActor.Request(data));

    internal void Bind(IActorRef proxy, Reactor reactor, string name, string? key)
    {
        _proxy = proxy;
        Reactor = reactor;
        WorkerName = name;
        WorkerKey = key;
    }

    internal void InvokePimpInit() => PimpInit();

    internal void InvokeReceiveData(object? data) => ReceiveData(data);
}

/// <summary>
/// The default proxy (Packet's <c>MetaPimp</c>): keeps the latest payload each worker pushes as its
/// status, readable from <see cref="Reactor.WorkerResults"/> under the worker's name (or <c>name_key</c>).
/// </summary>
public class MetaPimp : Pimp
{
    /// <inheritdoc />
    protected override void ReceiveData(object? data) => Reactor.RecordWorkerResult(WorkerName, WorkerKey, data);
}
