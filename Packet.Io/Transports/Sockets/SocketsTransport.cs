using System.Buffers;
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
    /// <summary>The largest output array <see cref="_output"/> keeps for reuse; larger ones are allocated for their write and left to the GC.</summary>
    internal const int LargestPooledOutput = 1024 * 1024;

    /// <summary>How many free output arrays of each size <see cref="_output"/> keeps: with sizes doubling up to <see cref="LargestPooledOutput"/>, under 16 MiB in all.</summary>
    internal const int PooledOutputsPerSize = 8;

    private readonly BlockPool _pool = new(settings.SocketsReadSize);

    /// <summary>
    /// Output buffers, a pool of this reactor's own with a bound on what it keeps. Not the process-wide
    /// <see cref="ArrayPool{T}.Shared"/>: it keeps arrays of every size up to 1 GiB, several per core, so
    /// after connections wrote tens of megabytes each (up to max-outbound) it held hundreds of megabytes
    /// of free arrays for as long as the process ran.
    /// </summary>
    private readonly ArrayPool<byte> _output = ArrayPool<byte>.Create(LargestPooledOutput, PooledOutputsPerSize);

    public void Bind(IActorRef owner, IPEndPoint endpoint) => Listener.Bind(owner, endpoint, settings, Wrap);

    /// <remarks>The owner cancels when it gives up, after <paramref name="timeout"/> or earlier, which ends the connect here.</remarks>
    public void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel) =>
        _ = Dialler.ConnectAsync(owner, endpoint, settings, cancel, Wrap);

    /// <summary>A connected socket, accepted or dialled, ready for its owner.</summary>
    private SocketsConnection Wrap(Socket socket) => new(socket, _pool, _output);

    /// <summary>This transport's events are <see cref="SocketEvents"/> already.</summary>
    public object Translate(object message, IActorRef sender) => message;

    public void Dispose() => _pool.Dispose();
}
