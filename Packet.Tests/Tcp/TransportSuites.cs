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

    public sealed class DataOnKestrel() : DataTests(Reactors.Kestrel);

    public sealed class FramedConnectionsOnAkkaIo() : FramedConnectionTests(Reactors.AkkaIo);

    public sealed class FramedConnectionsOnKestrel() : FramedConnectionTests(Reactors.Kestrel);

    public sealed class LifecycleOnAkkaIo() : LifecycleTests(Reactors.AkkaIo);

    public sealed class LifecycleOnKestrel() : LifecycleTests(Reactors.Kestrel);

    public sealed class ServersOnAkkaIo() : ServerTests(Reactors.AkkaIo);

    public sealed class ServersOnKestrel() : ServerTests(Reactors.Kestrel);

    public sealed class TimersOnAkkaIo() : TimerTests(Reactors.AkkaIo);

    public sealed class TimersOnKestrel() : TimerTests(Reactors.Kestrel);

    public sealed class DataOnSockets() : DataTests(Reactors.Sockets);

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
}
