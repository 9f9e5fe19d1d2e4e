using Akka.Actor;

namespace Packet.Actors.Runtime;

/// <summary>
/// The parent of a share of one server's connection actors. Akka keeps an actor's children in an
/// immutable map and copies a path through it to add or remove one, so a single parent of thousands
/// of connections made every accept allocate about 1.8 KB that was garbage at once, and an idle
/// connection cost that much more memory until the next collection. A server deals its connections
/// out to <see cref="ServerActor.GroupCount"/> groups in turn, which keeps each map small.
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
            case ConnectionActor.Shutdown shutdown:
                foreach (var child in Context.GetChildren()) child.Tell(shutdown);
                return true;
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
        if (message is not Terminated) return message is Close or ConnectionActor.Shutdown;
        StopWhenEmpty();
        return true;
    }

    private void StopWhenEmpty()
    {
        if (!Context.GetChildren().Any()) Context.Stop(Self);
    }
}
