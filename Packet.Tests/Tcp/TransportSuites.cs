using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>
/// The reactor suites, each run once on every transport: handlers, backpressure, unbind reasons and
/// timers must behave the same whichever transport carries the bytes.
/// </summary>
public static class TransportSuites
{
    public sealed class DataOnAkkaIo() : DataTests(Reactors.AkkaIo);

    public sealed class TlsOnAkkaIo() : TlsTests(Reactors.AkkaIo);

    public sealed class FramedConnectionsOnAkkaIo() : FramedConnectionTests(Reactors.AkkaIo);

    public sealed class LifecycleOnAkkaIo() : LifecycleTests(Reactors.AkkaIo);

    public sealed class ServersOnAkkaIo() : ServerTests(Reactors.AkkaIo);

    public sealed class TimersOnAkkaIo() : TimerTests(Reactors.AkkaIo);

    public sealed class DataOnSockets() : DataTests(Reactors.Sockets);

    public sealed class TlsOnSockets() : TlsTests(Reactors.Sockets);

    public sealed class FramedConnectionsOnSockets() : FramedConnectionTests(Reactors.Sockets);

    public sealed class LifecycleOnSockets() : LifecycleTests(Reactors.Sockets);

    public sealed class ServersOnSockets() : ServerTests(Reactors.Sockets);

    public sealed class TimersOnSockets() : TimerTests(Reactors.Sockets);
}

/// <summary>What only the Akka.IO transport has: its own akka.io.tcp settings.</summary>
public sealed class AkkaIoTransportTests
{
    [Fact]
    public async Task Settings_that_Akka_IO_refuses_fail_the_start_at_once_with_its_reason()
    {
        await using var reactor = Reactors.On(Reactors.AkkaIo, "akka.io.tcp { maximum-frame-size = 16k, send-buffer-size = 8k }");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder()).Within("the refused start", TimeSpan.FromSeconds(5)));

        Assert.Contains("SendBufferSize (8192) must be at least 2x", error.Message);
    }

    [Fact]
    public async Task One_Connect_dials_once_even_when_the_peer_resets_it_at_once()
    {
        // Akka.IO dials a failed connect again (akka.io.tcp.finish-connect-retries): a connect whose peer reset
        // it before the dialler saw it complete reached that peer again, and the re-dial could hang. And a socket
        // reset before Akka.IO reported it connected killed Akka.IO's dialling actor without a word to its commander.
        const int connects = 200, wave = 20;
        await using var reactor = Reactors.On(Reactors.AkkaIo, "packet.tcp.connect-timeout = 60s");
        using var peer = new ResettingListener();

        var outcomes = new List<UnbindKind>();
        for (var dialled = 0; dialled < connects; dialled += wave)
        {
            var clients = Enumerable.Range(0, wave).Select(_ => reactor.Connect<Recorder>(Loopback.Host, peer.Port)).ToList();
            foreach (var client in clients) outcomes.Add((await client.Unbound.Within("each connect's outcome")).Kind);
        }

        Assert.DoesNotContain(UnbindKind.ConnectTimeout, outcomes);
        await Bounded.Until(() => peer.Accepted >= connects, "every connect to reach the peer");
        Assert.Equal(connects, peer.Accepted);
    }
}

/// <summary>What only the sockets transport has: output buffers of its own.</summary>
[Collection(nameof(Alone))] // it measures the process's heap, which tests beside it would grow
public sealed class SocketsTransportTests
{
    [Fact]
    public async Task Output_of_connections_closed_by_an_outbound_overflow_is_not_kept_once_they_are_gone()
    {
        // Each connection's output grows, doubling, to max-outbound before the overflow closes it.
        const int connections = 4, megabyte = 1024 * 1024;
        await using var reactor = Reactors.On(Reactors.Sockets, "packet.tcp.backpressure.max-outbound = 64 MiB");
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => { for (var i = 0; i < 65; i++) c.SendData(new byte[megabyte]); },
        }));
        var before = GC.GetTotalMemory(forceFullCollection: true);

        for (var i = 0; i < connections; i++)
        {
            using var client = await Loopback.ConnectAllowingResetAsync(server.LocalEndPoint);
            Assert.Equal(UnbindKind.OutboundOverflow, (await (await accepted.Next()).Unbound.Within("the overflow to close the connection")).Kind);
        }
        await Bounded.Until(() => reactor.ConnectionCount == 0, "the closed connections to go");
        var kept = GC.GetTotalMemory(forceFullCollection: true) - before;

        // Before, the process-wide ArrayPool kept every array the output had outgrown: about 63 MiB a connection.
        Assert.True(kept < 32 * megabyte, $"{kept / megabyte} MiB still held after {connections} connections wrote {connections * 64} MiB and closed");
    }
}
