using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Packet.Io.Configuration;

namespace Packet.Io.Transports.Sockets;

/// <summary>
/// A listening <see cref="Socket"/> for the sockets transport: accepts in a loop and hands each
/// socket, as the transport wraps it, to the owner as <see cref="SocketEvents.Connected"/>.
/// </summary>
/// <remarks>
/// An accept that fails for want of a resource (the process or the system is out of file descriptors, or the
/// kernel out of buffers) leaves its connection waiting in the backlog, so trying again at once would only
/// fail again, as fast as the loop can spin. The loop pauses instead, <see cref="FirstPause"/> at first and
/// twice as long after each failure that follows, up to <see cref="LongestPause"/>, and tells the owner each
/// time (<see cref="SocketEvents.AcceptFailed"/>); the first accept that succeeds ends the pauses. A
/// connection the peer gave up before it was accepted is skipped. Any other error ends listening
/// (<see cref="SocketEvents.BindFailed"/>).
/// </remarks>
internal sealed class Listener : ISocketListener
{
    /// <summary>The pause after the first accept of a run of failures.</summary>
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(5);

    /// <summary>The longest pause between accepts that fail.</summary>
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly IActorRef _owner;
    private readonly TransportSettings _settings;
    private readonly Func<Socket, ISocketConnection> _wrap;
    private readonly CancellationTokenSource _unbinding = new();
    private readonly Task _accepting;

    private Listener(Socket listener, IActorRef owner, TransportSettings settings, Func<Socket, ISocketConnection> wrap)
    {
        _listener = listener;
        _owner = owner;
        _settings = settings;
        _wrap = wrap;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>
    /// Listens on <paramref name="endpoint"/> with <paramref name="settings"/>' backlog; <paramref name="owner"/> gets
    /// <see cref="SocketEvents.Bound"/> or <see cref="SocketEvents.BindFailed"/>, then each accepted socket, with the
    /// settings' socket options, as <paramref name="wrap"/> makes it.
    /// </summary>
    public static void Bind(IActorRef owner, IPEndPoint endpoint, TransportSettings settings, Func<Socket, ISocketConnection> wrap)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(settings.Backlog);
        }
        catch (Exception e)
        {
            socket.Dispose();
            owner.Tell(new SocketEvents.BindFailed(e));
            return;
        }
        owner.Tell(new SocketEvents.Bound(new Listener(socket, owner, settings, wrap)));
    }

    private async Task AcceptAsync()
    {
        var pause = TimeSpan.Zero;
        while (!_unbinding.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_unbinding.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // the peer gave up before its connection was accepted
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                pause = pause == TimeSpan.Zero ? FirstPause : TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
                _owner.Tell(new SocketEvents.AcceptFailed(e, pause));
                try
                {
                    await Task.Delay(pause, _unbinding.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            catch (Exception e)
            {
                if (!_unbinding.IsCancellationRequested) _owner.Tell(new SocketEvents.BindFailed(e));
                return;
            }
            pause = TimeSpan.Zero;
            ISocketConnection connection;
            try
            {
                SocketsConnection.SetOptions(socket, _settings);
                connection = _wrap(socket);
            }
            catch (SocketException)
            {
                socket.Dispose(); // reset before its options could be set: the peer has gone
                continue;
            }
            _owner.Tell(new SocketEvents.Connected(connection));
        }
    }

    /// <summary>Closes the listening socket before it returns, so the port refuses connections at once; the owner then gets <see cref="SocketEvents.Unbound"/>.</summary>
    public void Unbind()
    {
        _unbinding.Cancel(); // first, so the accept loop ends quietly instead of reporting the closed socket
        _listener.Dispose();
        _ = UnboundAsync();
    }

    private async Task UnboundAsync()
    {
        await _accepting;
        _unbinding.Dispose();
        _owner.Tell(SocketEvents.Unbound.Instance);
    }
}
