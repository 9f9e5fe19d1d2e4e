using Akka.Actor;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// Runs a worker on an actor inside the master, for development and tests: the same registration,
/// payload serialization and routing as a WorkerHost process, without the isolation. A worker that
/// hangs here holds its thread until it returns; <see cref="Kill"/> stops it after that.
/// </summary>
internal sealed class InProcessWorkerHost : IWorkerHost
{
    private readonly ActorSystem _system;
    private readonly IActorRef _actor;

    private InProcessWorkerHost(ActorSystem system, IActorRef actor, int id)
    {
        _system = system;
        _actor = actor;
        Id = id;
    }

    public int Id { get; }

    public int? ProcessId => null;

    public static InProcessWorkerHost Start(int id, ActorSystem system, Reactor reactor, WorkerType type, HostStart start, PayloadSerializer payloads, Action<int, Address> onLink, Action<int, int> onExit)
    {
        onLink(id, ((ExtendedActorSystem)system).Provider.RootPath.Address); // its worker's actor is local
        var worker = (Worker)Activator.CreateInstance(type.Type)!;
        var outcome = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var actor = system.ActorOf(Props.Create(() => new WorkerActor(worker, start, payloads, reactor, outcome)), $"in-process-worker{id}");
        outcome.Task.ContinueWith(_ => system.Stop(actor), TaskScheduler.Default);
        actor.WatchAsync().ContinueWith(_ => onExit(id, 0), TaskScheduler.Default);
        return new InProcessWorkerHost(system, actor, id);
    }

    public void Kill() => _system.Stop(_actor);

    /// <summary>In process there is no link to close cleanly: the same as <see cref="Kill"/>.</summary>
    public void End() => Kill();

    public void Dispose() => Kill();
}
