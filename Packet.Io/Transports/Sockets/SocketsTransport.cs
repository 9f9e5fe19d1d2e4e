using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Sockets;

/// <summary>
/// .NET's <see cref="Socket"/> under PacketAkka's actors, with nothing between: a read completes straight
/// into the connection actor's mailbox, and a write goes to the kernel from the actor's own thread.
/// </summary>
internal sealed class SocketsTransport(TransportSettings settings) : ITransport
{
    private readonly BlockPool _pool = new(settings.SocketsReadSize);

    public void Bind(IActorRef owner, IPEndPoint endpoint) => Listener.Bind(owner, endpoint, settings, Wrap);

    /// <remarks>The owner cancels when it gives up, after <paramref name="timeout"/> or earlier, which ends the connect here.</remarks>
    public void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel) =>
        _ = Dialler.ConnectAsync(owner, endpoint, settings, cancel, Wrap);

    /// <summary>A connected socket, accepted or dialled, ready for its owner.</summary>
    private SocketsConnection Wrap(Socket socket) => new(socket, _pool);

    /// <summary>This transport's events are <see cref="SocketEvents"/> already.</summary>
    public object Translate(object message, IActorRef sender) => message;

    public void Dispose() => _pool.Dispose();
}
