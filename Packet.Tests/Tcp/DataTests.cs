using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class DataTests(string transport) : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactors.On(transport);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _reactor.StopAsync();

    private async Task<int> EchoServerAsync() =>
        (await _reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder { Echo = true })).LocalEndPoint.Port;

    [Fact]
    public async Task All_256_byte_values_pass_intact()
    {
        var port = await EchoServerAsync();
        using var client = await Loopback.ConnectAsync(port);
        var every = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        await client.SendAsync(every, SocketFlags.None);
        var back = await client.ReadExactlyAsync(256);

        Assert.Equal(every, back);
    }

    [Fact]
    public async Task A_16_MiB_echo_sent_in_random_sized_writes_arrives_intact()
    {
        var port = await EchoServerAsync();
        using var client = await Loopback.ConnectAsync(port);
        var payload = new byte[16 * 1024 * 1024];
        new Random(2026).NextBytes(payload);

        var reading = client.ReadExactlyAsync(payload.Length, TimeSpan.FromSeconds(60));
        var random = new Random(7);
        for (var sent = 0; sent < payload.Length;)
        {
            var size = Math.Min(random.Next(1, 256 * 1024), payload.Length - sent);
            await client.SendAsync(payload.AsMemory(sent, size), SocketFlags.None);
            sent += size;
        }
        var back = await reading;

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(back));
    }

    [Fact]
    public async Task Close_after_writing_delivers_every_queued_byte_before_FIN()
    {
        const int size = 8_000_000; // the Ruby original delivered 3,919,872 of these
        var payload = RandomNumberGenerator.GetBytes(size);
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder
        {
            OnPostInit = c => { c.SendData(payload); c.CloseConnectionAfterWriting(); },
        });
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);

        var (data, reset) = await client.ReadToEndAsync(TimeSpan.FromSeconds(60));

        Assert.False(reset);
        Assert.Equal(size, data.Length);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(data));
    }

    [Fact]
    public async Task A_FIN_read_while_a_close_after_writing_waits_for_the_peer_still_ends_in_every_byte_and_FIN()
    {
        // Akka.NET 1.5's TcpConnection forgets a close that waits for a write when it reads the peer's FIN meanwhile
        // (it reports PeerClosed and waits on), which left the connection until close-timeout, then reset. For the FIN
        // to be read, reading must be on when the close is asked: so the output stays under the high-water mark and
        // the close comes from a timer, in a turn after the one that queued the output, not from ReceiveData.
        const int size = 8_000_000;
        var payload = RandomNumberGenerator.GetBytes(size);
        await using var reactor = Reactors.On(transport,
            "packet.tcp { close-timeout = 300s, backpressure { high-water-mark = 32 MiB, low-water-mark = 8 MiB } }");
        var accepted = new Accepted<Recorder>();
        var closing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asked = 0;
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnData = (c, _) =>
            {
                if (Interlocked.Exchange(ref asked, 1) == 1) return; // "go" may come in two reads
                c.SendData(payload);
                c.AddTimer(TimeSpan.FromMilliseconds(20), () =>
                {
                    c.CloseConnectionAfterWriting();
                    closing.TrySetResult();
                });
            },
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync("go");
        await closing.Task.Within("the handler to close after writing");
        client.Shutdown(SocketShutdown.Send); // the FIN, while most of the output waits for this client to read
        var (data, reset) = await client.ReadToEndAsync(TimeSpan.FromSeconds(60));

        Assert.False(reset);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(data));
        Assert.Equal(UnbindKind.LocalClose, (await handler.Unbound.Within("the unbind")).Kind);
    }

    [Fact]
    public async Task A_plain_close_discards_pending_output()
    {
        const int size = 32_000_000;
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => { c.SendData(new byte[size]); c.CloseConnection(); },
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        Assert.Equal(UnbindKind.LocalClose, (await serverSide.Unbound.Within("the server side to close")).Kind);
        var (data, _) = await client.ReadToEndAsync();
        Assert.True(data.Length < size, $"a plain close delivered all {data.Length} bytes");
    }

    [Fact]
    public async Task Pause_holds_data_back_and_Resume_delivers_it()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => c.Pause(),
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();
        await Bounded.Until(() => serverSide.IsPaused, "the handler to pause");

        await client.SendAsync("held back");
        await Task.Delay(300); // a bounded negative check: nothing may arrive while paused
        Assert.Equal(0, serverSide.ReceivedCount);

        serverSide.Resume();
        await serverSide.ReceivedAtLeast(9);
        Assert.Equal("held back", System.Text.Encoding.UTF8.GetString(serverSide.Received));
    }

    [Fact]
    public async Task Data_that_arrives_after_a_Pause_from_another_thread_is_held_back_until_Resume()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();
        await client.SendAsync("first");
        await serverSide.ReceivedAtLeast(5); // the connection asks for its next read before this Pause comes in

        serverSide.Pause();
        await Bounded.Until(() => serverSide.IsPaused, "the handler to pause");
        await client.SendAsync(" held back");
        await Task.Delay(300); // a bounded negative check: the read that was out may complete, but not deliver
        Assert.Equal(5, serverSide.ReceivedCount);

        serverSide.Resume();
        await serverSide.ReceivedAtLeast(15);
        Assert.Equal("first held back", System.Text.Encoding.UTF8.GetString(serverSide.Received));
    }

    [Fact]
    public async Task A_handler_that_pauses_inside_every_ReceiveData_gets_each_byte_once_and_in_order()
    {
        // Pausing mid-read leaves the rest of that read held back.
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        var calls = 0;
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnData = (c, _) =>
            {
                calls++;
                c.Pause();
                c.AddTimer(TimeSpan.FromMilliseconds(1), c.Resume);
            },
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        await client.SendAsync(payload, SocketFlags.None);
        await Bounded.Until(() => serverSide.ReceivedCount >= payload.Length, "the whole payload to arrive", TimeSpan.FromSeconds(60));

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(serverSide.Received));
        Assert.True(Volatile.Read(ref calls) > 1, $"the payload arrived in {calls} call(s)");
    }

    [Fact]
    public async Task The_inactivity_timeout_closes_a_silent_connection_with_its_reason()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => c.InactivityTimeout = TimeSpan.FromMilliseconds(200),
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        var reason = await serverSide.Unbound.Within("the inactivity timeout");
        var (_, reset) = await client.ReadToEndAsync();

        Assert.Equal(UnbindKind.InactivityTimeout, reason.Kind);
        Assert.False(reset);
    }

    [Fact]
    public async Task A_slow_reader_pauses_the_echo_instead_of_growing_its_buffer()
    {
        await using var reactor = Reactors.On(transport, """
            packet.tcp.backpressure { high-water-mark = 64 KiB, low-water-mark = 16 KiB, max-outbound = 1 MiB }
            """);
        var accepted = new Accepted<Recorder>();
        long peak = 0;
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            Echo = true,
            OnData = (c, _) => peak = Math.Max(peak, c.OutboundDataSize),
        }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        // Write far more than every buffer on the way can hold, without reading: the send must stall.
        var chunk = new byte[64 * 1024];
        using var stall = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        long written = 0;
        try
        {
            while (written < 256L * 1024 * 1024)
                written += await client.SendAsync(chunk, SocketFlags.None, stall.Token);
        }
        catch (OperationCanceledException) { }

        Assert.True(written < 256L * 1024 * 1024, "the server kept reading from a peer that never read");
        Assert.InRange(peak, 1, 1024 * 1024);
        Assert.False(serverSide.Unbound.IsCompleted, "backpressure must pause, not close");

        // Once the client reads, everything it wrote comes back.
        try
        {
            var back = await client.ReadExactlyAsync((int)written, TimeSpan.FromSeconds(60));
            Assert.Equal(written, back.Length);
        }
        catch (TimeoutException e)
        {
            Assert.Fail($"the echo stalled: {e.Message}; the server had received {serverSide.ReceivedCount} bytes, " +
                        $"held {serverSide.OutboundDataSize} unsent, unbound: {serverSide.Unbound.IsCompleted}");
        }
    }

    [Fact]
    public async Task A_handler_that_produces_only_while_writable_resumes_in_OutboundDrained_and_every_byte_arrives()
    {
        // With the defaults (high-water-mark 1 MiB, low-water-mark 256 KiB): without OutboundDrained the producer
        // would stop at the first MiB for good, and the read below would time out.
        const int total = 32 * 1024 * 1024;
        var accepted = new Accepted<Producer>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Producer(total)));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        await client.SendAsync("go\n");
        var producer = await accepted.Next();

        var back = await client.ReadExactlyAsync(total, TimeSpan.FromSeconds(60));

        Assert.True(back.AsSpan().SequenceEqual(Producer.Pattern(0, total)), "the bytes came back out of order or changed");
        Assert.True(producer.Drained > 0, "OutboundDrained was never called");
        Assert.InRange(producer.Peak, 1, 1024 * 1024 + Producer.Chunk); // it stopped at the high-water mark each time
    }

    /// <summary>Sends <c>total</c> patterned bytes once asked, 64 KiB at a time, only while <see cref="Connection.IsWritable"/>.</summary>
    private sealed class Producer(int total) : Connection
    {
        public const int Chunk = 64 * 1024;
        private int _sent;

        public int Drained { get; private set; }

        public long Peak { get; private set; }

        public static byte[] Pattern(int from, int count) => Enumerable.Range(from, count).Select(i => (byte)(i % 251)).ToArray();

        protected override void ReceiveData(ReadOnlyMemory<byte> data) => Produce();

        protected override void OutboundDrained()
        {
            Drained++;
            Produce();
        }

        private void Produce()
        {
            while (_sent < total && IsWritable)
            {
                var count = Math.Min(Chunk, total - _sent);
                SendData(Pattern(_sent, count));
                _sent += count;
                Peak = Math.Max(Peak, OutboundDataSize);
            }
        }
    }

    [Fact]
    public async Task Every_byte_of_many_small_echoes_is_acknowledged_so_reading_never_stops()
    {
        // Small writes are the ones a transport may take at once, without a later acknowledgement message.
        await using var reactor = Reactors.On(transport, "packet.tcp.backpressure { high-water-mark = 4 KiB, low-water-mark = 1 KiB }");
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder { Echo = true }));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        var message = new byte[64];
        for (var i = 0; i < 1000; i++) // 64,000 bytes in all, 15 times the high-water mark
        {
            message[0] = (byte)i;
            await client.SendAsync(message, SocketFlags.None);
            Assert.Equal(message, await client.ReadExactlyAsync(message.Length));
        }

        await Bounded.Until(() => serverSide.OutboundDataSize == 0, "every echoed byte to be acknowledged");
        Assert.False(serverSide.Unbound.IsCompleted);
    }

    [Fact]
    public async Task Received_bytes_stay_intact_until_ReceiveData_returns_even_when_it_closes_the_connection()
    {
        // The first client's handler closes its connection, then reads its data again once the second
        // client's bytes have been read: a transport that freed the first read's memory at the close
        // would have handed it to the second read by then.
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seenAfterClose = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder
        {
            OnData = (connection, data) =>
            {
                if (data.Span[0] != (byte)'A')
                {
                    secondRead.TrySetResult();
                    return;
                }
                connection.CloseConnection();
                closed.TrySetResult();
                secondRead.Task.Wait(TimeSpan.FromSeconds(10)); // bounded: the test fails below if it never came
                seenAfterClose.TrySetResult(Encoding.ASCII.GetString(data.Span));
            },
        });
        using var first = await Loopback.ConnectAsync(server.LocalEndPoint);
        using var second = await Loopback.ConnectAsync(server.LocalEndPoint);

        await first.SendAsync(Encoding.ASCII.GetBytes(new string('A', 1000)), SocketFlags.None);
        await closed.Task.Within("the first handler to close its connection");
        await second.SendAsync(Encoding.ASCII.GetBytes(new string('B', 1000)), SocketFlags.None);
        await secondRead.Task.Within("the second connection's read");

        Assert.Equal(new string('A', 1000), await seenAfterClose.Task.Within("the first handler to read its data again"));
    }

    [Fact]
    public async Task A_handler_that_writes_past_max_outbound_is_closed_with_OutboundOverflow()
    {
        await using var reactor = Reactors.On(transport, """
            packet.tcp.backpressure { high-water-mark = 64 KiB, low-water-mark = 16 KiB, max-outbound = 1 MiB }
            """);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => { for (var i = 0; i < 32; i++) c.SendData(new byte[64 * 1024]); },
        }));
        using var client = await Loopback.ConnectAllowingResetAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        var reason = await serverSide.Unbound.Within("the overflow to close the connection");

        Assert.Equal(UnbindKind.OutboundOverflow, reason.Kind);
        Assert.Contains("max-outbound", reason.Message);
    }

    [Fact]
    public async Task An_outbound_overflow_is_logged_once_as_a_warning_naming_the_limit_and_the_bytes()
    {
        await using var reactor = Reactors.On(transport, """
            packet.tcp.backpressure { high-water-mark = 64 KiB, low-water-mark = 16 KiB, max-outbound = 1 MiB }
            """);
        var warnings = new Warnings(reactor.System);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            OnPostInit = c => { for (var i = 0; i < 32; i++) c.SendData(new byte[64 * 1024]); }, // overflows at the 17th, then sends 15 more
        }));
        using var client = await Loopback.ConnectAllowingResetAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();

        Assert.Equal(UnbindKind.OutboundOverflow, (await serverSide.Unbound.Within("the overflow to close the connection")).Kind);
        await warnings.Settled();

        var warning = Assert.Single(warnings.Messages, m => m.Contains("OutboundOverflow"));
        Assert.Contains("packet.tcp.backpressure.max-outbound (1048576 bytes)", warning);
        Assert.Contains("with 1048576 bytes unsent", warning);
    }
}
