using Akka.Actor;
using Akka.Event;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// Hosts one <see cref="Worker"/> inside a WorkerHost process: registers with the master, runs
/// <see cref="Worker.WorkerInit"/> and tells the master it is ready, then turns
/// each <see cref="WorkerProtocol.Job"/> into a <see cref="Worker.ReceiveData"/> call and its result
/// into a <see cref="WorkerProtocol.Outcome"/>.
/// </summary>
/// <remarks>
/// The outcomes of a batch go to the <see cref="OutboxActor"/>, which sends them to the master's registry while the next job
/// runs: a slow job never holds back the answers to the jobs before it. A lone job is answered straight
/// from here, one actor hop sooner, once the outbox has sent everything it was given: answers leave in
/// the order their jobs ran.
/// </remarks>
internal sealed class WorkerActor : ActorBase
{
    /// <summary>The worker's <see cref="Worker.SendData"/>.</summary>
    internal sealed record Send(object? Data);

    /// <summary>The worker's <see cref="Worker.SendRequest"/>.</summary>
    internal sealed record Request(string Worker, string? Key, object? Data);

    private sealed class InitDone
    {
        public static readonly InitDone Instance = new();
    }

    private readonly Worker _worker;
    private readonly HostStart _start;
    private readonly PayloadSerializer _payloads;
    private readonly IActorRef _master;
    private readonly TaskCompletionSource<string?> _outcome;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LogThrottle _refusals = new(); // what a hostile peer can repeat at will
    private int _atOutbox; // outcomes handed to the outbox that it has not yet reported sent

    public WorkerActor(Worker worker, HostStart start, PayloadSerializer payloads, Reactor reactor, TaskCompletionSource<string?> outcome)
    {
        _worker = worker;
        _start = start;
        _payloads = payloads;
        _outcome = outcome;
        // A reference, not a selection: the master takes no actor selections from the link.
        _master = ((ExtendedActorSystem)Context.System).Provider.ResolveActorRef(start.Master);
        worker.Bind(Self, reactor, start.Name, start.Key, start.Options);
    }

    protected override void PreStart() => _master.Tell(new WorkerProtocol.Register(_start.Secret, _start.Instance, _start.Name, Self));

    /// <summary>Waiting for the master to accept the registration.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WorkerProtocol.Registered when !Sender.Path.Address.Equals(_master.Path.Address):
                if (_refusals.Due(out var skipped))
                    _log.Warning("dropped a {Message} from {Sender}, which is not the master ({Skipped} more such since the last warning)", message.GetType().Name, Sender.Path, skipped);
                return true;
            case WorkerProtocol.Registered registered:
                var outbox = Context.ActorOf(Props.Create(() => new OutboxActor(registered.Asks, _payloads.MaxPayload)), "outbox");
                Become(m => Serving(registered.Proxy, registered.Asks, outbox, m));
                try
                {
                    _worker.InvokeWorkerInit();
                    Self.Tell(InitDone.Instance); // behind what WorkerInit sent, which the master hears first
                }
                catch (Exception e)
                {
                    _log.Error(e, "WorkerInit of {Worker} threw; the worker stops", _start.Name);
                    _outcome.TrySetResult($"WorkerInit threw {e.GetType().Name}: {e.Message}");
                }
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Registered: runs the jobs the master's registry (<paramref name="asks"/>) sends, answering them
    /// there, and the requests its proxy sends; each is taken from that sender only. The host ends when
    /// the master closes its standard input, not on a message.
    /// </summary>
    private bool Serving(IActorRef proxy, IActorRef asks, IActorRef outbox, object message)
    {
        switch (message)
        {
            case WorkerProtocol.Work when !Sender.Equals(asks):
            case WorkerProtocol.Deliver when !Sender.Equals(proxy):
                if (_refusals.Due(out var skipped))
                    _log.Warning("dropped a {Message} from {Sender}, which is not the master's {Expected} ({Skipped} more such since the last warning)",
                        message.GetType().Name, Sender.Path, message is WorkerProtocol.Work ? "registry" : "proxy of this worker", skipped);
                return true;
            case WorkerProtocol.Work { Jobs.Length: 1 } work when _atOutbox == 0:
                asks.Tell(new WorkerProtocol.Outcomes([Run(work.Jobs[0])]));
                return true;
            case WorkerProtocol.Work work:
                foreach (var job in work.Jobs)
                {
                    outbox.Tell(Run(job));
                    _atOutbox++;
                }
                return true;
            case InitDone:
                proxy.Tell(WorkerProtocol.Ready.Instance);
                return true;
            case OutboxActor.Sent sent:
                _atOutbox -= sent.Count;
                return true;
            case WorkerProtocol.Deliver deliver:
                try
                {
                    _worker.InvokeReceiveData(_payloads.Deserialize(deliver.Payload));
                }
                catch (Exception e)
                {
                    _log.Error(e, "{Worker} failed on a request from another worker", _start.Name);
                }
                return true;
            case Send send:
                if (Encode(send.Data, "SendData") is { } bytes) proxy.Tell(new WorkerProtocol.Push(bytes));
                return true;
            case Request request:
                if (Encode(request.Data, "SendRequest") is { } payload) proxy.Tell(new WorkerProtocol.Forward(request.Worker, request.Key, payload));
                return true;
            default:
                return false;
        }
    }

    private WorkerProtocol.Outcome Run(WorkerProtocol.Job job)
    {
        object? request;
        try
        {
            request = _payloads.Deserialize(job.Payload);
        }
        catch (PayloadException e)
        {
            return Failed(job, e.Message);
        }
        object? result;
        try
        {
            result = _worker.InvokeReceiveData(request);
        }
        catch (Exception e)
        {
            _log.Warning("{Worker}.ReceiveData threw {ExceptionType}: {Reason}", _start.Name, e.GetType().Name, e.Message);
            return Failed(job, $"{_start.Name} threw {e.GetType().Name}: {e.Message}");
        }
        try
        {
            return new WorkerProtocol.Outcome(job.RequestId, _payloads.Serialize(result), null);
        }
        catch (PayloadException e)
        {
            return Failed(job, $"{_start.Name}'s reply cannot travel: {e.Message}");
        }
    }

    /// <summary>An error outcome; its text is cut at <see cref="MaxErrorLength"/> characters, as an exception message can be any length.</summary>
    private static WorkerProtocol.Outcome Failed(WorkerProtocol.Job job, string error) =>
        new(job.RequestId, null, error.Length <= MaxErrorLength ? error : string.Concat(error.AsSpan(0, MaxErrorLength), "…"));

    private const int MaxErrorLength = 4096;

    private byte[]? Encode(object? data, string where)
    {
        try
        {
            return _payloads.Serialize(data);
        }
        catch (PayloadException e)
        {
            _log.Error("{Worker}.{Hook} dropped a message: {Reason}", _start.Name, where, e.Message);
            return null;
        }
    }
}
