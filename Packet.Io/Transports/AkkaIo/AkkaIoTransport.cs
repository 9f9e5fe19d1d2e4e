using System.Buffers;
using System.Net;
using Akka.Actor;
using Akka.IO;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.AkkaIo;

/// <summary>
/// Akka.IO's TCP actors as a transport: every socket is an Akka.IO connection actor, read in pull mode.
/// Its <c>Tcp</c> events are translated in place by <see cref="Translate"/>.
/// </summary>
internal sealed class AkkaIoTransport(ActorSystem system, TransportSettings settings) : ITransport
{
    private readonly IReadOnlyList<Inet.SocketOption> _options = SocketOptions.From(settings);

    public void Bind(IActorRef owner, IPEndPoint endpoint) =>
        system.Tcp().Tell(new Tcp.Bind(owner, endpoint, settings.Backlog, _options, pullMode: true), owner);

    /// <remarks>
    /// Akka.IO cannot cancel a pending connect, and its connecting actor outlives an owner that has gone:
    /// without a timeout of its own the socket would stay in SYN-SENT for as long as the kernel retries
    /// (about two minutes), and could still connect. So it gets the owner's timeout plus
    /// <see cref="ConnectTimeoutGrace"/>, after which it closes the socket; the owner's own timer fires
    /// first and decides the outcome. A dial whose owner went earlier ends at that same deadline.
    /// </remarks>
    public void Connect(IActorRef owner, IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancel) =>
        system.Tcp().Tell(new Tcp.Connect(endpoint, options: [new SocketOptions.ResetReport(owner), .. _options], timeout: timeout + ConnectTimeoutGrace, pullMode: true), owner);

    private static readonly TimeSpan ConnectTimeoutGrace = TimeSpan.FromMilliseconds(500);

    public object Translate(object message, IActorRef sender) => message switch
    {
        Tcp.Received received => new SocketEvents.Received(new ReadOnlySequence<byte>(received.Data.ToArray())),
        Tcp.PeerClosed => SocketEvents.PeerClosed.Instance,
        Tcp.ErrorClosed error => new SocketEvents.Closed(error.Cause),
        Tcp.ConnectionClosed => new SocketEvents.Closed(null),
        Tcp.Connected connected => new SocketEvents.Connected(new AkkaIoSocket(sender, connected.RemoteAddress, connected.LocalAddress)),
        Tcp.Bound bound => new SocketEvents.Bound(new AkkaIoListener(sender, (IPEndPoint)bound.LocalAddress)),
        Tcp.Unbound => SocketEvents.Unbound.Instance,
        Tcp.CommandFailed failed => Failure(failed),
        _ => message,
    };

    /// <summary>Akka.IO's actors end with the actor system; nothing else to release.</summary>
    public void Dispose()
    {
    }

    private static object Failure(Tcp.CommandFailed failed)
    {
        var cause = failed.Cause.HasValue ? failed.Cause.Value : null;
        return failed.Cmd switch
        {
            Tcp.Bind => new SocketEvents.BindFailed(cause ?? new InvalidOperationException("bind failed")),
            // Akka.IO reports every failed connect with one generic ConnectException, so name both usual causes.
            Tcp.Connect => new SocketEvents.ConnectFailed(new InvalidOperationException($"refused or unreachable ({cause?.Message})", cause)),
            _ => new SocketEvents.Closed($"socket command {failed.Cmd.GetType().Name} failed: {cause?.Message}"),
        };
    }

    /// <summary>An Akka.IO listener actor.</summary>
    private sealed class AkkaIoListener(IActorRef listener, IPEndPoint local) : ISocketListener
    {
        public IPEndPoint LocalEndPoint => local;

        public void Unbind() => listener.Tell(Tcp.Unbind.Instance);
    }

    /// <summary>An Akka.IO connection actor, commanded by message on behalf of its owner.</summary>
    private sealed class AkkaIoSocket(IActorRef connection, EndPoint remote, EndPoint local) : ISocketConnection
    {
        private IActorRef _owner = ActorRefs.Nobody;

        // What Write copied since the last Flush, sent as one Tcp.Write: the first write's own copy, and once a
        // second comes, all of them in a pooled buffer, copied out once at Flush (a ByteString per write, joined
        // with Concat, allocated a new segment array per write).
        private byte[]? _first;
        private byte[]? _pooled;
        private int _length;

        public EndPoint RemoteEndPoint => remote;

        public EndPoint LocalEndPoint => local;

        public void Register(IActorRef owner)
        {
            _owner = owner;
            connection.Tell(new Tcp.Register(owner, keepOpenOnPeerClosed: true, useResumeWriting: false), owner);
        }

        public void ResumeReading() => connection.Tell(Tcp.ResumeReading.Instance, _owner);

        public void Write(ReadOnlySpan<byte> data)
        {
            if (data.IsEmpty) return;
            if (_length == 0)
            {
                _first = data.ToArray();
            }
            else
            {
                if (_pooled is null)
                {
                    _pooled = ArrayPool<byte>.Shared.Rent(Math.Max(2 * (_length + data.Length), 4096));
                    _first.AsSpan().CopyTo(_pooled);
                    _first = null;
                }
                else if (_length + data.Length > _pooled.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(2 * (_length + data.Length));
                    _pooled.AsSpan(0, _length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_pooled);
                    _pooled = larger;
                }
                data.CopyTo(_pooled.AsSpan(_length));
            }
            _length += data.Length;
        }

        /// <summary>Akka.IO takes a write by message, so its acknowledgement always comes later, as the write's ack.</summary>
        public int Flush()
        {
            if (_length == 0) return 0;
            var bytes = _pooled is null ? ByteString.FromBytes(_first!) : ByteString.CopyFrom(_pooled, 0, _length);
            connection.Tell(Tcp.Write.Create(bytes, new SocketEvents.Written(_length)), _owner);
            Clear();
            return 0;
        }

        private void Clear()
        {
            if (_pooled is not null) ArrayPool<byte>.Shared.Return(_pooled);
            _pooled = null;
            _first = null;
            _length = 0;
        }

        public void Close()
        {
            Flush();
            connection.Tell(Tcp.Close.Instance, _owner);
        }

        public void Abort()
        {
            Clear();
            connection.Tell(Tcp.Abort.Instance, _owner);
        }
    }
}
