using Akka.Actor;
using Packet.Actors;
using Packet.Io.Transports.Sockets;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>
/// A socket completion that tells an actor on <c>packet-connection-dispatcher</c> runs the actor's turn itself,
/// before its Tell returns, on its own pool thread; anywhere else the actor runs on another thread, as Akka schedules it.
/// </summary>
public sealed class CompletionDispatchTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("completion-dispatch", Reactor.DefaultConfig);

    /// <summary>Records the thread each message ran on.</summary>
    private sealed class ThreadRecorder : ReceiveActor
    {
        public ThreadRecorder(Dictionary<string, int> ran) => Receive<string>(name =>
        {
            lock (ran) ran[name] = Environment.CurrentManagedThreadId;
        });
    }

    private (IActorRef Actor, Dictionary<string, int> Ran) Recorder()
    {
        var ran = new Dictionary<string, int>();
        return (_system.ActorOf(Props.Create(() => new ThreadRecorder(ran)).WithDispatcher("packet-connection-dispatcher")), ran);
    }

    private static bool RanOn(Dictionary<string, int> ran, string name, int thread)
    {
        lock (ran) return ran.TryGetValue(name, out var on) && on == thread;
    }

    [Fact]
    public async Task A_tell_from_a_pool_thread_runs_the_actor_before_it_returns_on_that_thread()
    {
        var (actor, ran) = Recorder();

        var (thread, ranInside) = await Task.Run(() =>
        {
            CompletionDispatch.Tell(actor, "first");
            CompletionDispatch.Tell(actor, "second");
            var thread = Environment.CurrentManagedThreadId;
            return (thread, RanOn(ran, "first", thread) && RanOn(ran, "second", thread));
        }).Within("the pool thread's tells");

        Assert.True(ranInside, $"the actor did not run on pool thread {thread} inside the tell: {string.Join(", ", ran)}");
    }

    [Fact]
    public async Task A_tell_from_a_thread_outside_the_pool_leaves_the_actor_to_the_pool()
    {
        var (actor, ran) = Recorder();
        var probe = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Like the event thread of inline socket completions: handlers must never run there.
        var outside = new Thread(() =>
        {
            CompletionDispatch.Tell(actor, "outside");
            probe.SetResult(Environment.CurrentManagedThreadId);
        });
        outside.Start();
        var thread = await probe.Task.Within("the outside thread's tell");
        await actor.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(10)); // after "outside" in its mailbox

        lock (ran)
        {
            Assert.True(ran.TryGetValue("outside", out var on), "the actor never ran");
            Assert.NotEqual(thread, on);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _system.Terminate();
}
