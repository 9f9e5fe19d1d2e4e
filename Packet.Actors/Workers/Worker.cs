using Akka.Actor;
using Packet.Actors.Workers;

namespace Packet.Actors;

/// <summary>
/// Packet's <c>Packet::Worker</c>: code that runs in its own <c>Packet.WorkerHost</c> process, so slow,
/// CPU-heavy or dangerous work cannot stall or crash the master. Mark the class with
/// <see cref="WorkerAttribute"/> and override <see cref="ReceiveData"/>.
/// </summary>
/// <remarks>
/// <para>
/// The host calls <see cref="WorkerInit"/> once, then <see cref="ReceiveData"/> for each request, one
/// at a time on the worker's actor. What <see cref="ReceiveData"/> returns goes back to the connection
/// that asked; an exception goes back to it as an error, and the worker keeps serving.
/// </para>
/// <para>
/// Inside its process a worker is a full reactor: <see cref="Reactor"/> runs servers, clients and
/// timers there. Payloads in both directions must be of allowed types: simple built-in types, arrays,
/// lists and dictionaries of them, and the types named in <c>packet.workers.allowed-types</c>.
/// </para>
/// </remarks>
public abstract class Worker
{
    private IActorRef _self = ActorRefs.Nobody;

    /// <summary>The reactor of the WorkerHost process this worker runs in.</summary>
    public Reactor Reactor { get; private set; } = null!;

    /// <summary>The worker name from <see cref="WorkerAttribute"/>.</summary>
    public string Name { get; private set; } = "";

    /// <summary>The instance key given to <c>StartWorker</c>, or <see langword="null"/>.</summary>
    public string? Key { get; private set; }

    /// <summary>The options given to <c>StartWorker</c> (empty for auto-loaded workers): Packet's <c>worker_options</c>.</summary>
    public IReadOnlyDictionary<string, string> WorkerOptions { get; private set; } = new Dictionary<string, string>();

    /// <summary>Called once, on the worker's actor, after the master accepted the worker and before any request.</summary>
    protected virtual void WorkerInit() { }

    /// <summary>
    /// Called for each request, one at a time. For an <c>AskWorker</c> the return value is the reply;
    /// for a <see cref="SendRequest"/> from another worker it is ignored. An exception becomes an error
    /// reply to the asker.
    /// </summary>
    /// <param name="data">The payload the master sent.</param>
    protected abstract object? ReceiveData(object? data);

    /// <summary>Sends <paramref name="data"/> to the master (Packet's <c>send_data</c> with <c>:status</c>), which keeps the latest one in <see cref="Reactor.WorkerResults"/>.</summary>
    /// <param name="data">A payload of an allowed type.</param>
    public void SendData(object? data) => _self.Tell(new WorkerActor.Send(data));

    /// <summary>Sends <paramref name="data"/> to another worker through the master; its <see cref="ReceiveData"/> gets it and its reply is dropped.</summary>
    /// <param name="worker">The other worker's name.</param>
    /// <param name="data">A payload of an allowed type.</param>
    /// <param name="key">The other worker's instance key, if it has one.</param>
    public void SendRequest(string worker, object? data, string? key = null) => _self.Tell(new WorkerActor.Request(worker, key, data));

    internal void Bind(IActorRef self, Reactor reactor, string name, string? key, IReadOnlyDictionary<string, string> options)
    {
        _self = self;
        Reactor = reactor;
        Name = name;
        Key = key;
        WorkerOptions = options;
    }

    internal void InvokeWorkerInit() => WorkerInit();

    internal object? InvokeReceiveData(object? data) => ReceiveData(data);
}
