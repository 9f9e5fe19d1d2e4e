using System.Net;
using Akka.Actor;
using Packet.Actors.Runtime;

namespace Packet.Actors;

/// <summary>A listening server made by <see cref="Reactor.StartServerAsync{T}"/>.</summary>
public sealed class Server
{
    private readonly IActorRef _actor;
    private readonly TimeSpan _timeout;

    internal Server(IActorRef actor, IPEndPoint localEndPoint, TimeSpan timeout)
    {
        _actor = actor;
        LocalEndPoint = localEndPoint;
        _timeout = timeout;
    }

    /// <summary>The address the server listens on, with the real port when it was started on port 0.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>
    /// Stops accepting and closes the listening socket; when the task completes, the port is free to
    /// bind again. Connections already accepted stay open until they end on their own (EventMachine's
    /// <c>stop_server</c>). Stopping twice is harmless.
    /// </summary>
    public Task StopAsync()
    {
        var stopping = new Lazy<Task>(() => _actor.Ask<ServerActor.Stopped>(ServerActor.Stop.Instance, _timeout));
        return (Interlocked.CompareExchange(ref _stopping, stopping, null) ?? stopping).Value;
    }

    private Lazy<Task>? _stopping;

    /// <summary>The blocking form of <see cref="StopAsync"/>, for setup code; not for use inside handler hooks.</summary>
    public void Stop() => Reactor.Blocking(async () => { await StopAsync().ConfigureAwait(false); return true; });

    /// <inheritdoc />
    public override string ToString() => $"server on {LocalEndPoint}";
}
