using Akka.Actor;

namespace Packet.Actors.Runtime;

/// <summary>
/// The parent of a share of one server's connection actors. Akka keeps an actor's children in an
/// immutable map and copies a path through it to add or remove one, so a single parent of thousands
/// of connections made every accept allocate about 1.8 KB that was garbage at once, and an idle
/// connection cost that much more memory until the next collection. A server deals its connections
/// out to <see cref="ConnectionGroups.Count"/> groups in turn, which keeps each map small; so does the
/// reactor with its outbound connections.
/// </summary>
/// <remarks>
/// A group only spawns, passes <see cref="ConnectionActor.Shutdown"/> on, and on <see cref="Close"/>
/// stops once its last connection has ended. A connection actor that fails is stopped (its handler
/// gets Unbind), never restarted.
/// </remarks>
internal sealed class ConnectionGroup(ReactorRuntime runtime) : ActorBase
{
    /// <summary>Host <paramref name="Handler"/> on a new connection actor in this group.</summary>
    internal sealed record Spawn(Connection Handler, ConnectionActor.Origin Origin, Action<Connection>? Init);

    /// <summary>The server is stopping: close every connection gracefully, then stop after the last one.</summary>
    internal sealed record Close(UnbindReason Reason);

    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Spawn spawn:
                runtime.Spawn(Context, spawn.Handler, spawn.Origin, spawn.Init);
                return true;
            case ConnectionActor.Shutdown or ConnectionActor.StopReading:
                foreach (var child in Context.GetChildren()) child.Tell(message);
                return true;
            case ServerActor.StopAccepting:
                return true; // the reactor tells all its children; a group accepts nothing
            case Close close:
                var shutdownAll = new ConnectionActor.Shutdown(close.Reason);
                foreach (var child in Context.GetChildren())
                {
                    Context.Watch(child);
                    child.Tell(shutdownAll);
                }
                Context.Become(Closing);
                StopWhenEmpty();
                return true;
            default:
                return false;
        }
    }

    private bool Closing(object message)
    {
        if (message is not Terminated) return message is Close or ConnectionActor.Shutdown or ConnectionActor.StopReading;
        StopWhenEmpty();
        return true;
    }

    private void StopWhenEmpty()
    {
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }
}

/// <summary>One parent's <see cref="ConnectionGroup"/>s: made on first use, and dealt spawns in turn.</summary>
internal sealed class ConnectionGroups(ReactorRuntime runtime)
{
    /// <summary>Groups per parent: with 10,000 connections, 80 or so each.</summary>
    internal const int Count = 128;

    private readonly IActorRef?[] _groups = new IActorRef?[Count];
    private int _next;

    /// <summary>Spawns <paramref name="handler"/>'s actor in the parent's next group; <paramref name="context"/> is the parent's.</summary>
    public void Spawn(IActorContext context, Connection handler, ConnectionActor.Origin origin, Action<Connection>? init)
    {
        var index = _next;
        _next = (index + 1) % Count;
        var group = _groups[index] ??= context.ActorOf(Props.Create(() => new ConnectionGroup(runtime)), $"connections-{index}");
        group.Tell(new ConnectionGroup.Spawn(handler, origin, init));
    }
}
