using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;

namespace Packet.Io.Transports.Sockets;

/// <summary>
/// Lets a socket's completion run its owner's turn on its own thread. A read that had to wait finishes on a
/// thread-pool thread (or on .NET's socket event thread, when completions run inline), which tells the owner
/// what came; Akka would queue the owner's mailbox to the pool and wake another thread for it, a second hop
/// (and, on a small machine, a context switch) for every read. <see cref="Tell"/> instead runs the mailbox
/// right there, once the message is in it: the completion has done its own work by then. Connection actors run on <c>packet-connection-dispatcher</c>, whose
/// <see cref="CompletionExecutor"/> hands the mailbox over; everywhere else it queues it as Akka's own does.
/// </summary>
internal static class CompletionDispatch
{
    [ThreadStatic] private static bool t_taking;          // a Tell on this thread would hand its mailbox over
    [ThreadStatic] private static IRunnable? t_mailbox;   // the mailbox it handed over

    /// <summary>
    /// Tells <paramref name="owner"/> <paramref name="message"/> from a completion that had to wait (so no actor
    /// is running on this thread), and runs the owner's mailbox here if the message scheduled it. That thread is
    /// a pool thread, or, in a process that runs socket completions inline
    /// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>), .NET's socket event thread itself: then the
    /// connection's turn runs where the socket was seen ready, as in EventMachine's reactor, with no hand-over at all.
    /// </summary>
    public static void Tell(IActorRef owner, object message)
    {
        if (t_taking)
        {
            owner.Tell(message);
            return;
        }
        t_taking = true;
        try
        {
            owner.Tell(message);
        }
        finally
        {
            t_taking = false;
        }
        var mailbox = t_mailbox;
        t_mailbox = null;
        mailbox?.Run();
    }

    /// <summary>Takes <paramref name="mailbox"/> to run after the current <see cref="Tell"/>, if one is telling on this thread.</summary>
    public static bool TryTake(IRunnable mailbox)
    {
        if (!t_taking || t_mailbox is not null) return false;
        t_mailbox = mailbox;
        return true;
    }
}

/// <summary>
/// The executor of <c>packet-connection-dispatcher</c>: a mailbox scheduled by <see cref="CompletionDispatch.Tell"/>
/// runs on the telling thread; any other is queued to the .NET thread pool, preferring the current thread's
/// queue, as Akka's default executor does. Akka makes it from the dispatcher's config by reflection.
/// </summary>
internal sealed class CompletionExecutor(Config config, IDispatcherPrerequisites prerequisites) : ExecutorServiceConfigurator(config, prerequisites)
{
    /// <inheritdoc />
    public override ExecutorService Produce(string id) => new Service(id);

    private sealed class Service(string id) : ExecutorService(id)
    {
        public override void Execute(IRunnable run)
        {
            if (!CompletionDispatch.TryTake(run)) ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: true);
        }

        public override void Shutdown()
        {
            // nothing to stop: the thread pool is the process's
        }
    }
}
