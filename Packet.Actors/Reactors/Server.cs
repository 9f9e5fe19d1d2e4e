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
    /// Stops the server: new connections are turned away, the connections it accepted close after
    /// writing what they have queued (each gets <see cref="Connection.Unbind"/> with
    /// <see cref="UnbindKind.Shutdown"/>), and then the listening socket closes; when the task
    /// completes, the port is free to bind again. Unlike EventMachine's <c>stop_server</c>, accepted
    /// connections do not outlive their server: Akka.IO ties them to its listening socket. Stopping twice
    /// is harmless.
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
