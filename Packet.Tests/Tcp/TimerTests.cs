using System.Collections.Concurrent;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class TimerTests(string transport) : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactors.On(transport);
    private Recorder _connection = null!;

    public async Task InitializeAsync()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        _connection = _reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        await _connection.Completed.Within("the connect");
    }

    public async Task DisposeAsync() => await _reactor.StopAsync();

    /// <summary>Runs <paramref name="action"/> on the connection's actor, as a hook would.</summary>
    private void OnConnection(Action action) => _connection.AddTimer(TimeSpan.FromMilliseconds(1), action);

    [Fact]
    public async Task A_one_shot_timer_fires_once_on_the_connection()
    {
        var fired = new TaskCompletionSource<int>();
        var count = 0;
        _connection.AddTimer(TimeSpan.FromMilliseconds(20), () => fired.TrySetResult(Interlocked.Increment(ref count)));

        Assert.Equal(1, await fired.Task.Within("the timer"));
        var after = new TaskCompletionSource();
        _connection.AddTimer(TimeSpan.FromMilliseconds(100), () => after.SetResult());
        await after.Task.Within("a later timer");
        Assert.Equal(1, count);
    }

    [Fact]
    public async Task A_periodic_timer_runs_exactly_N_times_when_cancelled_from_its_callback()
    {
        var count = 0;
        var done = new TaskCompletionSource();
        TimerHandle? timer = null;
        OnConnection(() => timer = _connection.AddPeriodicTimer(TimeSpan.FromMilliseconds(10), () =>
        {
            if (++count == 5)
            {
                _connection.CancelTimer(timer!);
                done.SetResult();
            }
        }));
        await done.Task.Within("five ticks");

        var settled = new TaskCompletionSource();
        _connection.AddTimer(TimeSpan.FromMilliseconds(100), () => settled.SetResult());
        await settled.Task.Within("ten more periods");
        Assert.Equal(5, count);
    }

    [Fact]
    public async Task A_timer_cancelled_before_its_first_fire_never_runs()
    {
        var ran = false;
        var later = new TaskCompletionSource();
        OnConnection(() =>
        {
            var timer = _connection.AddTimer(TimeSpan.FromMilliseconds(20), () => ran = true);
            timer.Cancel();
            _connection.AddTimer(TimeSpan.FromMilliseconds(100), () => later.SetResult());
        });

        await later.Task.Within("the later timer");
        Assert.False(ran);
    }

    [Fact]
    public async Task Timer_callbacks_run_on_the_connection_actor_one_at_a_time()
    {
        var inside = 0;
        var overlaps = 0;
        var ticks = new CountdownEvent(50);
        for (var i = 0; i < 50; i++)
            _connection.AddTimer(TimeSpan.FromMilliseconds(5), () =>
            {
                if (Interlocked.Increment(ref inside) > 1) Interlocked.Increment(ref overlaps);
                Thread.SpinWait(1000);
                Interlocked.Decrement(ref inside);
                ticks.Signal();
            });

        await Task.Run(() => ticks.Wait(Bounded.Default)).Within("50 timers");
        Assert.Equal(0, overlaps);
    }

    [Fact]
    public async Task Connection_timers_die_with_their_connection()
    {
        var ran = false;
        OnConnection(() =>
        {
            _connection.AddTimer(TimeSpan.FromMilliseconds(200), () => ran = true);
            _connection.CloseConnection();
        });
        await _connection.Unbound.Within("the close");

        var later = new TaskCompletionSource();
        _reactor.AddTimer(TimeSpan.FromMilliseconds(400), () => later.SetResult());
        await later.Task.Within("a reactor timer after the connection's would have fired");
        Assert.False(ran);
    }

    [Fact]
    public async Task Reactor_timers_and_NextTick_run_on_the_reactor_and_survive_exceptions()
    {
        var errors = new ConcurrentQueue<Exception>();
        _reactor.ErrorHandler = (_, e) => errors.Enqueue(e);
        var order = new ConcurrentQueue<string>();
        var done = new TaskCompletionSource();

        _reactor.NextTick(() => order.Enqueue("tick 1"));
        _reactor.NextTick(() => throw new InvalidOperationException("boom"));
        _reactor.NextTick(() => order.Enqueue("tick 2"));
        var periodic = 0;
        TimerHandle? timer = null;
        timer = _reactor.AddPeriodicTimer(TimeSpan.FromMilliseconds(10), () =>
        {
            if (++periodic == 3)
            {
                _reactor.CancelTimer(timer!);
                _reactor.AddTimer(TimeSpan.FromMilliseconds(50), () => done.SetResult());
            }
        });

        await done.Task.Within("the reactor timers");
        Assert.Equal(["tick 1", "tick 2"], order);
        Assert.Equal(3, periodic);
        Assert.Equal("boom", Assert.Single(errors).Message);
    }

    [Fact]
    public async Task NextTick_work_queued_after_Stop_is_dropped_and_work_queued_before_it_runs()
    {
        // The fixture's connection keeps the stopping reactor alive while it closes, long enough to run queued work.
        var ran = new ConcurrentQueue<string>();
        _reactor.NextTick(() => ran.Enqueue("before"));

        var stopping = _reactor.StopAsync();
        _reactor.NextTick(() => ran.Enqueue("after"));
        await stopping.Within("the reactor to stop");

        Assert.Equal(["before"], ran);
    }
}
