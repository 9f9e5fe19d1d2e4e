using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace Packet.Tests.Support;

/// <summary>Collects the warnings logged in a reactor's actor system, for tests of what is logged (test reactors log at WARNING).</summary>
public sealed class Warnings
{
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly IActorRef _collector;

    public Warnings(ActorSystem system)
    {
        var messages = _messages;
        _collector = system.ActorOf(Props.Create(() => new Collector(messages)));
        system.EventStream.Subscribe(_collector, typeof(Warning));
    }

    /// <summary>The warnings collected so far, formatted, oldest first.</summary>
    public IReadOnlyList<string> Messages => _messages.ToArray();

    /// <summary>Completes once every warning logged before this call has been collected: the collector's mailbox is first in, first out.</summary>
    public Task Settled() => _collector.Ask<Settle>(Settle.Instance, Bounded.Default);

    private sealed class Settle
    {
        public static readonly Settle Instance = new();
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<string> messages)
        {
            Receive<Warning>(warning => messages.Enqueue(warning.Message.ToString() ?? ""));
            Receive<Settle>(settle => Sender.Tell(settle));
        }
    }
}
