using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master's worker registry, at <c>/user/workers</c>: starts and deletes workers (one
/// <see cref="ProxyActor"/> each), checks WorkerHost registrations against the per-run secret, and
/// routes asks and worker-to-worker requests to the right proxy.
/// </summary>
internal sealed class WorkersActor : ActorBase
{
    /// <summary>Start a worker; answered with <see cref="Status.Success"/> once it registered, or <see cref="Status.Failure"/>.</summary>
    internal sealed record StartWorker(string Name, string? Key, IReadOnlyDictionary<string, string> Options);

    /// <summary>Stop a worker's process and forget it; answered with <see cref="Status.Success"/> or <see cref="Status.Failure"/>.</summary>
    internal sealed record DeleteWorker(string Name, string? Key);

    /// <summary>Ask a worker; the asker (<see cref="ActorBase.Sender"/>) gets a <see cref="ProxyActor.Answer"/>.</summary>
    internal sealed record Ask(long RequestId, string Worker, string? Key, byte[] Payload);

    /// <summary>Answered with every running worker's <see cref="WorkerInfo"/>.</summary>
    internal sealed class ListWorkers
    {
        public static readonly ListWorkers Instance = new();
    }

    /// <summary>To a proxy: answer with <see cref="Status.Success"/> once the worker has registered.</summary>
    internal sealed class WhenReady
    {
        public static readonly WhenReady Instance = new();
    }

    private readonly WorkersRuntime _workers;
    private readonly Dictionary<(string Name, string? Key), IActorRef> _running = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public WorkersActor(WorkersRuntime workers) => _workers = workers;

    protected override void PreStart()
    {
        foreach (var worker in _workers.Catalog.Values.Where(w => !w.NoAutoLoad))
            Spawn(worker, null, new Dictionary<string, string>());
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case StartWorker start:
                if (!_workers.Catalog.TryGetValue(start.Name, out var type))
                    Sender.Tell(new Status.Failure(new ArgumentException(UnknownWorker(start.Name))));
                else if (_running.ContainsKey((start.Name, start.Key)))
                    Sender.Tell(new Status.Failure(new InvalidOperationException(
                        $"worker {start.Name}{(start.Key is null ? "" : $" with key \"{start.Key}\"")} is already running; delete it first or use another key")));
                else
                    Spawn(type, start.Key, start.Options).Tell(WhenReady.Instance, Sender);
                return true;
            case DeleteWorker delete:
                if (_running.Remove((delete.Name, delete.Key), out var proxy))
                    proxy.Ask<ProxyActor.Deleted>(ProxyActor.Delete.Instance, _workers.Settings.StartTimeout)
                        .PipeTo(Sender, success: _ => new Status.Success(delete.Name));
                else
                    Sender.Tell(new Status.Failure(new ArgumentException($"no worker {delete.Name}{(delete.Key is null ? "" : $" with key \"{delete.Key}\"")} is running")));
                return true;
            case Ask ask:
                if (_running.TryGetValue((ask.Worker, ask.Key), out var target))
                    target.Forward(new ProxyActor.Ask(ask.RequestId, ask.Payload));
                else
                    Sender.Tell(new ProxyActor.Answer(ask.RequestId, ask.Worker, ask.Key, null, NotRunning(ask.Worker, ask.Key)));
                return true;
            case WorkerProtocol.Register register:
                Register(register);
                return true;
            case WorkerProtocol.Forward forward:
                if (_running.TryGetValue((forward.Worker, forward.Key), out var recipient))
                    recipient.Tell(new WorkerProtocol.Deliver(forward.Payload));
                else
                    _log.Warning("a worker's SendRequest to {0} was dropped: {1}", forward.Worker, NotRunning(forward.Worker, forward.Key));
                return true;
            case ListWorkers:
                var proxies = _running.Values.ToArray();
                Task.WhenAll(proxies.Select(p => p.Ask<WorkerInfo>(ProxyActor.Describe.Instance, TimeSpan.FromSeconds(5))))
                    .PipeTo(Sender, success: infos => (IReadOnlyList<WorkerInfo>)infos);
                return true;
            case Terminated terminated:
                foreach (var entry in _running.Where(e => e.Value.Equals(terminated.ActorRef)).ToArray()) _running.Remove(entry.Key);
                return true;
            default:
                return false;
        }
    }

    private IActorRef Spawn(WorkerType type, string? key, IReadOnlyDictionary<string, string> options)
    {
        var proxy = Context.ActorOf(Props.Create(() => new ProxyActor(type, key, options, _workers)));
        Context.Watch(proxy);
        _running[(type.Name, key)] = proxy;
        return proxy;
    }

    /// <summary>A WorkerHost must prove it was started by this master; anything else is refused and logged.</summary>
    private void Register(WorkerProtocol.Register register)
    {
        if (!_workers.IsSecret(register.Secret))
        {
            _log.Warning("refused a worker registration from {0} as {1}: wrong secret", register.Worker.Path.Address, register.Name);
            Sender.Tell(new WorkerProtocol.Refused("this master did not start you (wrong secret)"));
            return;
        }
        if (!_running.TryGetValue((register.Name, register.Key), out var proxy))
        {
            _log.Warning("refused a worker registration as {0}: no such worker is being started", register.Name);
            Sender.Tell(new WorkerProtocol.Refused($"no worker {register.Name} is being started"));
            return;
        }
        proxy.Forward(register);
    }

    private string UnknownWorker(string name) =>
        $"no worker is named \"{name}\" (known: {(_workers.Catalog.Count == 0 ? "none" : string.Join(", ", _workers.Catalog.Keys.Order()))})";

    private string NotRunning(string name, string? key) =>
        _workers.Catalog.ContainsKey(name)
            ? $"worker {name}{(key is null ? "" : $" with key \"{key}\"")} is not running"
            : UnknownWorker(name);
}
