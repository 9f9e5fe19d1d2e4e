using System.Net.Sockets;
using Akka.Actor;
using Packet.Io.Configuration;

namespace Packet.Io.Transports;

/// <summary>
/// What the Kestrel and sockets connections share: the owner their events go to, a release that runs
/// once however many ways a connection ends, and exactly one <see cref="SocketEvents.Closed"/>.
/// </summary>
internal abstract class OwnedSocket
{
    private readonly Lock _gate = new();
    private Task? _releasing;
    private int _closedTold;

    /// <summary>Gives a connected socket, accepted or dialled, <c>packet.tcp</c>'s socket options, before it is wrapped.</summary>
    public static void SetOptions(Socket socket, TransportSettings settings)
    {
        socket.NoDelay = settings.NoDelay;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, settings.KeepAlive);
    }

    /// <summary>The actor this socket's events go to.</summary>
    protected IActorRef Owner { get; private set; } = ActorRefs.Nobody;

    /// <inheritdoc cref="ISocketConnection.Register"/>
    public void Register(IActorRef owner) => Owner = owner;

    /// <summary>Ends the read in progress, if any, and releases the socket; called once, by <see cref="ReleaseAsync"/>.</summary>
    protected abstract Task ReleaseOnceAsync();

    /// <summary>Releases the socket, once: every later call gets the first call's task.</summary>
    protected Task ReleaseAsync()
    {
        lock (_gate)
        {
            return _releasing ??= ReleaseOnceAsync();
        }
    }

    /// <summary>Runs <paramref name="finish"/> (send what is left, then FIN), releases the socket, and tells the owner it is closed, with the error if finishing failed.</summary>
    protected async Task CloseAsync(Func<Task> finish)
    {
        string? error = null;
        try
        {
            await finish();
        }
        catch (Exception e)
        {
            error = e.Message;
        }
        await ReleaseAsync();
        TellClosed(error);
    }

    /// <summary>Releases the socket, then tells the owner it is closed.</summary>
    protected async Task AbortAsync()
    {
        await ReleaseAsync();
        TellClosed(null);
    }

    /// <summary>Tells the owner the socket is closed, with <paramref name="error"/> if it failed; only the first call tells.</summary>
    protected void TellClosed(string? error)
    {
        if (Interlocked.Exchange(ref _closedTold, 1) == 0) Owner.Tell(new SocketEvents.Closed(error));
    }
}
