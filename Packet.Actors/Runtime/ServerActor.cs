using System.Net;
using System.Net.Security;
using Akka.Actor;
using Akka.Event;
using Packet.Io.Transports;

namespace Packet.Actors.Runtime;

/// <summary>
/// One listening socket. Binds through the reactor's transport and turns each accepted socket into a
/// handler hosted by a <see cref="ConnectionActor"/>, spawned by one of this server's <see cref="ConnectionGroup"/>s.
/// </summary>
/// <remarks>
/// Akka.IO makes every accepted connection a child of its listener, so closing the listening socket
/// aborts them; on every transport, a <see cref="Stop"/> therefore stops accepting first, closes its connections gracefully
/// (each delivers what it has queued and gets <see cref="UnbindKind.Shutdown"/>), and only then frees
/// the port. A stopping reactor sends <see cref="StopAccepting"/> first and closes connections later,
/// after in-flight worker asks are answered. States: binding (<see cref="Receive"/>),
/// <see cref="Listening"/>, <see cref="Refusing"/> (bound, turning new connections away),
/// <see cref="Closing"/> (waiting for the last connection), <see cref="Unbinding"/>.
/// </remarks>
internal sealed class ServerActor : ActorBase, IWithTimers
{
    /// <summary>Answer to the binder: <paramref name="Server"/> listens on <paramref name="LocalEndPoint"/>.</summary>
    internal sealed record Bound(IActorRef Server, IPEndPoint LocalEndPoint);

    /// <summary>Close this server's connections, then free the port; answered with <see cref="Stopped"/>.</summary>
    internal sealed class Stop
    {
        public static readonly Stop Instance = new();
    }

    /// <summary>The port is free again.</summary>
    internal sealed class Stopped
    {
        public static readonly Stopped Instance = new();
    }

    /// <summary>Keep the socket, but turn every new connection away at once.</summary>
    internal sealed class StopAccepting
    {
        public static readonly StopAccepting Instance = new();
    }

    private sealed class ClosingTimedOut
    {
        public static readonly ClosingTimedOut Instance = new();
    }

    /// <summary>A <c>refusal-log-interval</c> has passed since the last refusal warning.</summary>
    private sealed class RefusalLogDue
    {
        public static readonly RefusalLogDue Instance = new();
    }

    private readonly IPEndPoint _endpoint;
    private readonly Func<Connection> _factory;
    private readonly Action<Connection>? _onAccept;
    private readonly SslServerAuthenticationOptions? _tls;
    private readonly ReactorRuntime _runtime;
    private readonly IActorRef _binder;
    private readonly ConnectionGroups _groups;

    public ServerActor(IPEndPoint endpoint, Func<Connection> factory, Action<Connection>? onAccept, SslServerAuthenticationOptions? tls, ReactorRuntime runtime, IActorRef binder)
    {
        _endpoint = endpoint;
        _factory = factory;
        _onAccept = onAccept;
        _tls = tls;
        _runtime = runtime;
        _binder = binder;
        _groups = new ConnectionGroups(runtime);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The listener while it is bound, so that a server ended with its reactor still frees the port.</summary>
    private ISocketListener? _listening;

    /// <summary>Accepts refused above max-connections since the last warning, told in the next one.</summary>
    private int _refusedUnlogged;

    protected override void PreStart()
    {
        try
        {
            _runtime.Transport.Bind(Self, _endpoint);
        }
        catch (Exception e)
        {
            // Akka.IO refuses bad akka.io.tcp settings only when it first starts: say so now, not after a timeout.
            _binder.Tell(new Status.Failure(new InvalidOperationException($"cannot listen on {_endpoint}: {e.Message}", e)));
            Context.Stop(Self);
        }
    }

    protected override void PostStop() => _listening?.Unbind();

    protected override bool AroundReceive(Receive receive, object message) =>
        base.AroundReceive(receive, _runtime.Transport.Translate(message, Sender));

    /// <summary>Waiting for the transport to bind.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case SocketEvents.Bound bound:
                var local = bound.Listener.LocalEndPoint;
                _binder.Tell(new Bound(Self, local));
                _runtime.Log.Info("server on {Endpoint} accepts connections", local);
                _listening = bound.Listener;
                Context.Become(m => Listening(bound.Listener, local, m));
                return true;
            case SocketEvents.BindFailed failed:
                _binder.Tell(new Status.Failure(new InvalidOperationException($"cannot listen on {_endpoint}: {failed.Cause.Message}", failed.Cause)));
                Context.Stop(Self);
                return true;
            default:
                return false;
        }
    }

    private bool Listening(ISocketListener listener, IPEndPoint local, object message)
    {
        switch (message)
        {
            case SocketEvents.Connected connected:
                Accept(connected.Socket);
                return true;
            case StopAccepting:
                _runtime.Log.Info("server on {Endpoint} stopped accepting", local);
                Context.Become(m => Refusing(listener, local, m));
                return true;
            default:
                return Refusing(listener, local, message);
        }
    }

    /// <summary>Bound, but every new connection is reset at once; existing ones carry on.</summary>
    private bool Refusing(ISocketListener listener, IPEndPoint local, object message)
    {
        switch (message)
        {
            case SocketEvents.Connected refused:
                refused.Socket.Abort();
                return true;
            case StopAccepting:
                return true;
            case SocketEvents.BindFailed failed:
                _runtime.Log.Error(failed.Cause, "server on {Endpoint} can no longer accept connections; those it has carry on", local);
                return true;
            case SocketEvents.AcceptFailed failed:
                _runtime.Log.Warning("server on {Endpoint} cannot accept a connection ({Reason}); it tries again in {RetryMs} ms", local, failed.Cause.Message, failed.RetryIn.TotalMilliseconds);
                return true;
            case RefusalLogDue:
                LogRefusals();
                return true;
            case ConnectionActor.Shutdown or ConnectionActor.StopReading:
                foreach (var group in Context.GetChildren()) group.Tell(message);
                return true;
            case Stop:
                var stopper = Sender;
                var close = new ConnectionGroup.Close(new UnbindReason(UnbindKind.Shutdown, $"the server on {local} stopped"));
                foreach (var group in Context.GetChildren())
                {
                    Context.Watch(group);
                    group.Tell(close);
                }
                Timers.StartSingleTimer(ClosingTimedOut.Instance, ClosingTimedOut.Instance, _runtime.Settings.CloseTimeout);
                Context.Become(m => Closing(listener, local, stopper, m));
                UnbindWhenEmpty(listener, local, stopper);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Stopping: new connections are reset; the port is freed once the last group, after its last connection, has stopped.</summary>
    private bool Closing(ISocketListener listener, IPEndPoint local, IActorRef stopper, object message)
    {
        switch (message)
        {
            case Terminated:
                UnbindWhenEmpty(listener, local, stopper);
                return true;
            case ClosingTimedOut:
                _runtime.Log.Warning("server on {Endpoint}: connections still open after {CloseTimeout}; closing the socket aborts them", local, _runtime.Settings.CloseTimeout);
                Unbind(listener, local, stopper);
                return true;
            case SocketEvents.Connected refused:
                refused.Socket.Abort();
                return true;
            case RefusalLogDue:
                LogRefusals();
                return true;
            case Stop or StopAccepting or ConnectionActor.Shutdown or ConnectionActor.StopReading or SocketEvents.AcceptFailed:
                return true;
            default:
                return false;
        }
    }

    private void UnbindWhenEmpty(ISocketListener listener, IPEndPoint local, IActorRef stopper)
    {
        if (!Context.GetChildren().Any()) Unbind(listener, local, stopper);
    }

    private void Unbind(ISocketListener listener, IPEndPoint local, IActorRef stopper)
    {
        Timers.Cancel(ClosingTimedOut.Instance);
        listener.Unbind();
        _listening = null;
        Context.Become(m => Unbinding(stopper, local, m));
    }

    private bool Unbinding(IActorRef stopper, IPEndPoint local, object message)
    {
        switch (message)
        {
            case SocketEvents.Unbound:
                _runtime.Log.Info("server on {Endpoint} stopped", local);
                stopper.Tell(Stopped.Instance);
                Context.Stop(Self);
                return true;
            case SocketEvents.Connected refused:
                refused.Socket.Abort();
                return true;
            case Stop or StopAccepting or ConnectionActor.Shutdown or ConnectionActor.StopReading or Terminated or ClosingTimedOut or RefusalLogDue:
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Logs an accept refused above max-connections so that a flood does not flood the log: the first at
    /// once, then at most one warning per <c>refusal-log-interval</c>, with the count since.
    /// </summary>
    private void Refused(EndPoint peer)
    {
        if (Timers.IsTimerActive(RefusalLogDue.Instance))
        {
            _refusedUnlogged++;
            return;
        }
        _runtime.Log.Warning("refusing {Peer}: {Reason}; further refusals are counted and logged at most every {Interval} (packet.tcp.refusal-log-interval)",
            peer, _runtime.AtMaxConnections, _runtime.Settings.RefusalLogInterval);
        Timers.StartSingleTimer(RefusalLogDue.Instance, RefusalLogDue.Instance, _runtime.Settings.RefusalLogInterval);
    }

    /// <summary>Logs the refusals counted in the interval that ended, if any; after a quiet interval the next refusal is logged at once.</summary>
    private void LogRefusals()
    {
        if (_refusedUnlogged == 0) return;
        _runtime.Log.Warning("refused {Count} more connections in the last {Interval}: {Reason}", _refusedUnlogged, _runtime.Settings.RefusalLogInterval, _runtime.AtMaxConnections);
        _refusedUnlogged = 0;
        Timers.StartSingleTimer(RefusalLogDue.Instance, RefusalLogDue.Instance, _runtime.Settings.RefusalLogInterval);
    }

    private void Accept(ISocketConnection socket)
    {
        if (!_runtime.TryAdmit())
        {
            socket.Abort();
            _runtime.Metrics.ConnectionRejected();
            Refused(socket.RemoteEndPoint);
            return;
        }
        Connection handler;
        try
        {
            ReactorRuntime.MakingHandler = true;
            handler = _factory();
        }
        catch (Exception e)
        {
            _runtime.Release();
            socket.Abort();
            _runtime.ReportError(null, e, "a server's connection factory");
            return;
        }
        finally
        {
            ReactorRuntime.MakingHandler = false;
        }
        _groups.Spawn(Context, handler, new ConnectionActor.Accepted(socket, _tls), _onAccept);
    }
}
