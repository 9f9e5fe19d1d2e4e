using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Packet.Actors.Runtime;

/// <summary>
/// The mailbox of connection actors (<c>packet-connection-mailbox</c>): Akka's default mailbox keeps a
/// 32-slot segment (about 1 KiB) for every actor from its first message on, and a server holds
/// thousands of mostly idle connection actors. This one holds one node per waiting message and one more.
/// </summary>
internal sealed class ConnectionMailbox(Settings settings, Config config) : MailboxType(settings, config), IProducesMessageQueue<ConnectionMailbox.Queue>
{
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue();

    /// <summary>
    /// A linked queue for many senders and the one consumer Akka guarantees (Vyukov's MPSC queue). A
    /// sender swaps itself in as the tail, then links the old tail to it; between the two steps the
    /// consumer sees the queue end early, and the sender's own scheduling of the mailbox, which comes
    /// after its link, runs the consumer again.
    /// </summary>
    /// <remarks>
    /// That scheduling is a handshake: the sender reads the mailbox status after <see cref="Enqueue"/>,
    /// and the consumer, going idle, writes the status and then reads <see cref="HasMessages"/>. Each
    /// side must see the other's write, so the link is an interlocked write, a full fence. A plain
    /// (volatile) write may still wait in the sender's store buffer while it reads the status (x86
    /// reorders a store with a later load): both sides then miss each other, and the message waits
    /// for the next one to arrive. With one read in flight, as in pull mode, none does and the
    /// connection stalls.
    /// </remarks>
    internal sealed class Queue : IMessageQueue
    {
        private sealed class Node
        {
            public Envelope Envelope;
            public Node? Next;
        }

        private Node _head = new(); // consumer side: the last node taken (its envelope already cleared)
        private Node _tail;         // sender side: the last node added

        public Queue() => _tail = _head;

        public bool HasMessages => Volatile.Read(ref _head.Next) is not null;

        /// <summary>The messages waiting, counted from the consumer's side; for monitoring only.</summary>
        public int Count
        {
            get
            {
                var count = 0;
                for (var node = Volatile.Read(ref _head.Next); node is not null; node = Volatile.Read(ref node.Next)) count++;
                return count;
            }
        }

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            var node = new Node { Envelope = envelope };
            var previous = Interlocked.Exchange(ref _tail, node);
            Interlocked.Exchange(ref previous.Next, node); // a full fence: see the remarks above
        }

        public bool TryDequeue(out Envelope envelope)
        {
            var next = Volatile.Read(ref _head.Next);
            if (next is null)
            {
                envelope = default;
                return false;
            }
            envelope = next.Envelope;
            next.Envelope = default; // the node stays as the new head: let go of the message
            _head = next;
            return true;
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }
    }
}
