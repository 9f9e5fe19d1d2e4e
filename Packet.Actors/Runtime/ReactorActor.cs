using System.Net;
using System.Net.Security;
using Akka.Actor;

namespace Packet.Actors.Runtime;

/// <summary>
/// The reactor's own actor: parent of its servers and of the <see cref="ConnectionGroup"/>s of its
/// outbound connections, and the thread of reactor-level timers and <see cref="Reactor.NextTick"/> work.
/// </summary>
internal sealed class ReactorActor : ActorBase, IWithTimers
{
    /// <summary>Bind a server; the new <see cref="ServerActor"/> answers the sender.</summary>
    internal sealed record StartServer(IPEndPoint EndPoint, Func<Connection> Factory, Action<Connection>? OnAccept, SslServerAuthenticationOptions? Tls);

    /// <summary>Dial out with <paramref name="Handler"/>.</summary>
    internal sealed record Connect(Connection Handler, string Host, int Port, Action<Connection>? Init);

    /// <summary>Run work on this actor.</summary>
    internal sealed record Run(Action Action);

    /// <summary>Start a reactor-level timer.</summary>
    internal sealed record StartTimer(TimerHandle Handle, Action Callback);

    /// <summary>Cancel a reactor-level timer.</summary>
    internal sealed record CancelTimer(TimerHandle Handle);

    private readonly ReactorRuntime _runtime;
    private readonly CallbackTimers _timers = new();
    private readonly ConnectionGroups _dialled;

    public ReactorActor(ReactorRuntime runtime)
    {
        _runtime = runtime;
        _dialled = new ConnectionGroups(runtime);
        runtime.ReactorActor = this;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    protected override bool Receive(object message) => Handle(message);

    /// <summary>Handles a message, or a command made on this actor's own thread.</summary>
    internal bool Handle(object message)
    {
        switch (message)
        {
            case StartServer start:
                Context.ActorOf(Props.Create(() => new ServerActor(start.EndPoint, start.Factory, start.OnAccept, start.Tls, _runtime, Sender)));
                return true;
            case Connect connect:
                var admitted = _runtime.AdmitDial();
                _dialled.Spawn(Context, connect.Handler, new ConnectionActor.Dial(connect.Host, connect.Port, admitted), connect.Init);
                return true;
            case ServerActor.StopAccepting or ConnectionActor.StopReading or ConnectionActor.Shutdown:
                foreach (var child in Context.GetChildren()) child.Tell(message); // servers and groups pass StopReading and Shutdown on to their connections
                return true;
            case Run run:
                Safely(run.Action, "Reactor.NextTick work");
                return true;
            case StartTimer start:
                _timers.Start(Timers, start.Handle, start.Callback);
                return true;
            case CancelTimer cancel:
                _timers.Cancel(Timers, cancel.Handle);
                return true;
            case CallbackTimers.Fired fired:
                if (_timers.Take(fired) is { } callback) Safely(callback, "a reactor timer callback");
                return true;
            default:
                return false;
        }
    }

    /// <summary>Reactor-level callbacks that throw are reported; the reactor keeps running.</summary>
    private void Safely(Action action, string where)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            _runtime.ReportError(null, e, where);
        }
    }
}
