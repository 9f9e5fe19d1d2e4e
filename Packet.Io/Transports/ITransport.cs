using System.Net;
using Akka.Actor;

namespace Packet.Io.Transports;

/// <summary>
/// The seam under the connection and server actors: how a reactor listens and dials. Everything a
/// transport does comes back to the actor that asked as a <see cref="SocketEvents"/> message, so the
/// actors above it are the same for every transport.
/// </summary>
/// <remarks>
/// Two transports exist, chosen by <c>packet.tcp.transport</c>: Akka.IO's TCP actors (the default) and
/// .NET's <c>Socket</c> directly. Akka.IO answers with its own <c>Tcp</c>
/// messages; the actors pass every message through <see cref="Translate"/> first, which turns those into
/// <see cref="SocketEvents"/> in place, with no actor in between.
/// </remarks>
internal interface ITransport : IDisposable
{
    /// <summary>Listens on <paramref name="endpoint"/>. <paramref name="owner"/> gets <see cref="SocketEvents.Bound"/> or <see cref="SocketEvents.BindFailed"/>, then a <see cref="SocketEvents.Connected"/> per accepted socket.</summary>
    void Bind(IActorRef owner, IPEndPoint endpoint);

    /// <summary>
    /// Dials <paramref name="endpoint"/>. <paramref name="owner"/> gets <see cref="SocketEvents.Connected"/> or
    /// <see cref="SocketEvents.ConnectFailed"/>. The owner gives up after <paramref name="timeout"/> by its own
    /// timer and signals <paramref name="cancel"/> when it goes; the transport closes the pending socket on
    /// either, so a dial given up never stays in the kernel retrying, nor connects late.
    /// </summary>
    void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel);

    /// <summary>Turns a transport's own message into its <see cref="SocketEvents"/> equivalent; any other message is returned as it is.</summary>
    object Translate(object message, IActorRef sender);
}

/// <summary>A listening socket, as its owner drives it.</summary>
internal interface ISocketListener
{
    /// <summary>The address it is bound to, with the real port when port 0 was asked for.</summary>
    IPEndPoint LocalEndPoint { get; }

    /// <summary>Stops listening and frees the port; the owner gets <see cref="SocketEvents.Unbound"/>. Accepted sockets are not touched.</summary>
    void Unbind();
}

/// <summary>
/// One connected socket, driven by the actor that <see cref="Register"/>ed. Calls come from that actor
/// only, one at a time; events go back to it as <see cref="SocketEvents"/>.
/// </summary>
internal interface ISocketConnection
{
    EndPoint RemoteEndPoint { get; }

    EndPoint LocalEndPoint { get; }

    /// <summary>Makes <paramref name="owner"/> the receiver of this socket's events. Nothing is read until <see cref="ResumeReading"/>.</summary>
    void Register(IActorRef owner);

    /// <summary>
    /// Reads once: the owner gets one <see cref="SocketEvents.Received"/>, or <see cref="SocketEvents.PeerClosed"/>
    /// or <see cref="SocketEvents.Closed"/>. The bytes of the previous <see cref="SocketEvents.Received"/> are
    /// released here, so the owner must be done with them.
    /// </summary>
    void ResumeReading();

    /// <summary>Copies <paramref name="data"/> into the socket's output at once (the caller may reuse its memory); nothing is sent before <see cref="Flush"/>.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>
    /// Sends what was written since the last flush. Returns how many of those bytes the transport took at
    /// once; when it took them later instead, the owner gets <see cref="SocketEvents.Written"/> with their number
    /// then. Either way each flushed byte is acknowledged exactly once.
    /// </summary>
    int Flush();

    /// <summary>
    /// Sends every byte written, then FIN; the owner gets <see cref="SocketEvents.Closed"/>. The owner calls it
    /// between its messages, never while a handler reads received bytes, so the transport may free them.
    /// </summary>
    void Close();

    /// <summary>Resets the socket and discards queued output; the owner gets <see cref="SocketEvents.Closed"/>. Called as <see cref="Close"/> is.</summary>
    void Abort();
}
