using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>A reactor's timers work from the first connection on, whatever the thread pool's size.</summary>
[Collection(nameof(Alone))] // it shrinks the process's thread pool while it runs
public sealed class SchedulerStartTests
{
    /// <summary>
    /// Each connection sets its inactivity timer as it starts. Akka starts its timer thread on first use and
    /// blocks the caller until a pool thread has run the start; a burst of new connections used to fill the
    /// pool with actors blocked so, with the start queued behind them. Here the pool is held to four threads,
    /// where that never ends: a watchdog lets the pool grow again after <see cref="Bounded.Default"/>, so the
    /// test fails instead of hanging (the wait for the echoes cannot time out while the pool is stuck).
    /// </summary>
    [Fact]
    public async Task A_burst_of_connections_each_setting_a_timer_on_a_fresh_reactor_is_served_by_a_small_thread_pool()
    {
        ThreadPool.GetMaxThreads(out var workers, out var completions);
        ThreadPool.GetMinThreads(out var minWorkers, out _);
        Assert.True(ThreadPool.SetMaxThreads(Math.Max(minWorkers, 4), completions), "the thread pool could not be limited");
        using var finished = new ManualResetEventSlim();
        var rescued = false;
        var watchdog = new Thread(() =>
        {
            if (finished.Wait(Bounded.Default)) return;
            Volatile.Write(ref rescued, true);
            ThreadPool.SetMaxThreads(workers, completions);
        }) { IsBackground = true };
        watchdog.Start();
        try
        {
            // On sockets: on Akka.IO, its own actors happen to start the timer thread before any connection.
            await using var reactor = Reactors.On(Reactors.Sockets, "packet.tcp.inactivity-timeout = 60s");
            var server = await reactor.StartServerAsync<Echo>(Loopback.Host, 0);

            var clients = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Loopback.ConnectAsync(server.LocalEndPoint.Port)));
            try
            {
                var echoes = clients.Select(async (client, i) =>
                {
                    await client.SendAsync($"client {i}\n");
                    return Encoding.ASCII.GetString(await client.ReadExactlyAsync($"client {i}\n".Length));
                });
                var answers = await Task.WhenAll(echoes).Within("an echo on each of 200 new connections");

                Assert.Equal(Enumerable.Range(0, 200).Select(i => $"client {i}\n"), answers);
                Assert.False(Volatile.Read(ref rescued), "the reactor stood still until the thread pool was let grow again");
            }
            finally
            {
                foreach (var client in clients) client.Dispose();
            }
        }
        finally
        {
            ThreadPool.SetMaxThreads(workers, completions);
            finished.Set();
            watchdog.Join();
        }
    }

    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }
}
