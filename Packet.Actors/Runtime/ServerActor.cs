using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace Packet.Actors.Runtime;

/// <summary>
/// One listening socket. Binds through Akka.IO, turns each accepted socket into a handler hosted by a
/// child <see cref="ConnectionActor"/>, and unbinds on <see cref="Stop"/>. Connections outlive a stop;
/// this actor stops itself once the last of them has ended.
/// </summary>
internal sealed class ServerActor : ActorBase
{
    /// <summary>Answer to the binder: <paramref name="Server"/> listens on <paramref name="LocalEndPoint"/>.</summary>
    internal sealed record Bound(IActorRef Server, IPEndPoint LocalEndPoint);

    /// <summary>Stop accepting and free the port; answered with <see cref="Stopped"/>.</summary>
    internal sealed class Stop
    {
        public static readonly Stop Instance = new();
    }

    /// <summary>The port is free again.</summary>
    internal sealed class Stopped
    {
        public static readonly Stopped Instance = new();
    }

    private readonly IPEndPoint _endpoint;
    private readonly Func<Connection> _factory;
    private readonly Action<Connection>? _onAccept;
    private readonly ReactorRuntime _runtime;
    private readonly IActorRef _binder;

    public ServerActor(IPEndPoint endpoint, Func<Connection> factory, Action<Connection>? onAccept, ReactorRuntime runtime, IActorRef binder)
    {
        _endpoint = endpoint;
        _factory = factory;
        _onAccept = onAccept;
        _runtime = runtime;
        _binder = binder;
    }

    protected override void PreStart()
    {
        try
        {
            Context.System.Tcp().Tell(new Tcp.Bind(Self, _endpoint, _runtime.Settings.Backlog, _runtime.SocketOptions, pullMode: true));
        }
        catch (Exception e)
        {
            // Akka.IO refuses bad akka.io.tcp settings only when it first starts: say so now, not after a timeout.
            _binder.Tell(new Status.Failure(new InvalidOperationException($"cannot listen on {_endpoint}: {e.Message}", e)));
            Context.Stop(Self);
        }
    }

    /// <summary>Waiting for Akka.IO to bind.</summary>
    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Tcp.Bound bound:
                var local = (IPEndPoint)bound.LocalAddress;
                _binder.Tell(new Bound(Self, local));
                var listener = Sender;
                Context.Become(m => Listening(listener, local, m));
                return true;
            case Tcp.CommandFailed failed:
                var cause = failed.Cause.HasValue ? failed.Cause.Value : null;
                _binder.Tell(new Status.Failure(new InvalidOperationException(
                    $"cannot listen on {_endpoint}: {cause?.Message ?? "bind failed"}", cause)));
                Context.Stop(Self);
                return true;
            default:
                return false;
        }
    }

    private bool Listening(IActorRef listener, IPEndPoint local, object message)
    {
        switch (message)
        {
            case Tcp.Connected connected:
                Accept(Sender, connected);
                return true;
            case Stop:
                listener.Tell(Tcp.Unbind.Instance);
                var stopper = Sender;
                Context.Become(m => Unbinding(stopper, local, m));
                return true;
            default:
                return false;
        }
    }

    private bool Unbinding(IActorRef stopper, IPEndPoint local, object message)
    {
        switch (message)
        {
            case Tcp.Unbound:
                _runtime.Log.Info("server on {0} stopped accepting", local);
                stopper.Tell(Stopped.Instance);
                Drain();
                return true;
            case Tcp.Connected:
                Sender.Tell(Tcp.Abort.Instance);
                return true;
            case Stop:
                Sender.Tell(Stopped.Instance);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Stays alive, a parent to the connections still open, and stops with the last of them.</summary>
    private void Drain()
    {
        foreach (var child in Context.GetChildren()) Context.Watch(child);
        Context.Become(message =>
        {
            switch (message)
            {
                case Terminated:
                    if (!Context.GetChildren().Any()) Context.Stop(Self);
                    return true;
                case Stop:
                    Sender.Tell(Stopped.Instance);
                    return true;
                case Tcp.Connected:
                    Sender.Tell(Tcp.Abort.Instance);
                    return true;
                default:
                    return false;
            }
        });
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }

    private void Accept(IActorRef tcp, Tcp.Connected connected)
    {
        if (!_runtime.TryAdmit())
        {
            _runtime.Log.Warning("refusing {0}: the reactor holds packet.tcp.max-connections ({1}) connections",
                connected.RemoteAddress, _runtime.Settings.MaxConnections);
            tcp.Tell(Tcp.Abort.Instance);
            return;
        }
        Connection handler;
        try
        {
            handler = _factory();
        }
        catch (Exception e)
        {
            _runtime.Release();
            tcp.Tell(Tcp.Abort.Instance);
            _runtime.ReportError(null, e, "a server's connection factory");
            return;
        }
        _runtime.Spawn(Context, handler, new ConnectionActor.Accepted(tcp, connected.RemoteAddress, connected.LocalAddress), _onAccept);
    }
}
