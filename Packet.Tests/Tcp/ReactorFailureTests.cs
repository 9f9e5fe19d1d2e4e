using Akka.Actor;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>A reactor never lives on as a zombie: if its own actor or its worker registry stops, for any reason, the whole reactor stops and Run throws.</summary>
public sealed class ReactorFailureTests
{
    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }

    [Theory]
    [InlineData("/user/reactor", "poison")]
    [InlineData("/user/reactor", "kill")]
    [InlineData("/user/workers", "poison")]
    [InlineData("/user/workers", "kill")]
    public async Task A_reactor_whose_own_actor_stops_stops_as_a_whole_and_RunAsync_throws(string path, string how)
    {
        var started = new TaskCompletionSource<(Reactor Reactor, Server Server)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = Reactor.RunAsync(async reactor => started.SetResult((reactor, await reactor.StartServerAsync<Echo>(Loopback.Host, 0))),
            Akka.Configuration.ConfigurationFactory.ParseString("""
                akka.loglevel = OFF
                packet.workers { enabled = on, in-process = on }
                """));
        var (reactor, server) = await started.Task.Within("the reactor to start");

        reactor.System.ActorSelection(path).Tell(how == "kill" ? Kill.Instance : PoisonPill.Instance);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => run.Within("RunAsync to end", TimeSpan.FromSeconds(20)));
        Assert.Contains("stopped unexpectedly", failure.Message);
        Assert.True(reactor.WhenStopped.IsCompleted);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => Loopback.ConnectAsync(server.LocalEndPoint));
    }
}
