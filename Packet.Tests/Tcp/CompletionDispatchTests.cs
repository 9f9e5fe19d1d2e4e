using Akka.Actor;
using Packet.Actors;
using Packet.Io.Transports.Sockets;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>
/// A socket completion that tells an actor on <c>packet-connection-dispatcher</c> runs the actor's turn itself,
/// before its Tell returns, on its own thread (a pool thread, or .NET's socket event thread when completions run
/// inline); an ordinary tell leaves the actor to the pool, as Akka schedules it.
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

    /// <summary>
    /// Tells <paramref name="actor"/> two messages through <see cref="CompletionDispatch"/> on <paramref name="start"/>'s
    /// thread, and says whether both ran there before the tells returned. A new actor's mailbox may still be busy
    /// with its own start (or with the answer to the question asked before) on another thread; then the tell only
    /// queues, as it must, and the next attempt tries again.
    /// </summary>
    private static async Task<bool> RunsInsideTheTellAsync(IActorRef actor, Dictionary<string, int> ran, Func<Func<int>, Task<int>> start)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await actor.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(10));
            var (first, second) = ($"first {attempt}", $"second {attempt}");
            var thread = await start(() =>
            {
                CompletionDispatch.Tell(actor, first);
                CompletionDispatch.Tell(actor, second);
                return RanOn(ran, first, Environment.CurrentManagedThreadId) && RanOn(ran, second, Environment.CurrentManagedThreadId) ? Environment.CurrentManagedThreadId : 0;
            }).Within("the tells");
            if (thread != 0) return true;
        }
        return false;
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own, outside the pool, as .NET's socket event thread is.</summary>
    private static Task<int> OnOwnThread(Func<int> body)
    {
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() => done.SetResult(body())) { IsBackground = true }.Start();
        return done.Task;
    }

    [Fact]
    public async Task A_tell_from_a_pool_thread_runs_the_actor_before_it_returns_on_that_thread()
    {
        var (actor, ran) = Recorder();

        Assert.True(await RunsInsideTheTellAsync(actor, ran, Task.Run), $"the actor never ran inside a pool thread's tell: {string.Join(", ", ran)}");
    }

    [Fact]
    public async Task A_tell_from_the_socket_event_thread_of_inline_completions_runs_the_actor_there()
    {
        var (actor, ran) = Recorder();

        Assert.True(await RunsInsideTheTellAsync(actor, ran, OnOwnThread), $"the actor never ran inside an outside thread's tell: {string.Join(", ", ran)}");
    }

    [Fact]
    public async Task An_ordinary_tell_leaves_the_actor_to_the_pool()
    {
        var (actor, ran) = Recorder();
        await actor.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(10));

        var thread = await OnOwnThread(() =>
        {
            actor.Tell("ordinary");
            return Environment.CurrentManagedThreadId;
        }).Within("the ordinary tell");
        await actor.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(10)); // after "ordinary" in its mailbox

        lock (ran)
        {
            Assert.True(ran.TryGetValue("ordinary", out var on), "the actor never ran");
            Assert.NotEqual(thread, on);
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _system.Terminate();
}
