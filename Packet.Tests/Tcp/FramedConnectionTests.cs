using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class FramedConnectionTests(string transport) : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactors.On(transport, "packet.framing { max-line-length = 64, max-frame-length = 1 KiB }");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _reactor.StopAsync();

    /// <summary>"SIZE n" announces an n-byte body; other lines echo back upper-cased.</summary>
    private sealed class Upper : LineConnection
    {
        public readonly TaskCompletionSource<UnbindReason> Unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void ReceiveLine(string line)
        {
            if (line.StartsWith("SIZE ", StringComparison.Ordinal)) SetBinaryMode(int.Parse(line[5..]));
            else SendLine(line.ToUpperInvariant());
        }

        protected override void ReceiveBinaryData(ReadOnlyMemory<byte> data) => SendLine($"got {data.Length} bytes: {Encoding.UTF8.GetString(data.Span).ReplaceLineEndings("|")}");

        protected override void Unbind(UnbindReason reason) => Unbound.TrySetResult(reason);
    }

    [Fact]
    public async Task A_LineConnection_gets_whole_lines_and_binary_blocks_however_the_bytes_are_split()
    {
        var server = await _reactor.StartServerAsync<Upper>(Loopback.Host, 0);
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var input = "hello\r\nSIZE 6\nab\ncd\nxyz\n"u8.ToArray();

        foreach (var b in input) await client.SendAsync(new[] { b }, SocketFlags.None);

        var expected = "HELLO\ngot 6 bytes: ab|cd|\nXYZ\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(await client.ReadExactlyAsync(Encoding.UTF8.GetByteCount(expected))));
    }

    [Fact]
    public async Task An_overlong_line_closes_the_connection_with_a_protocol_error()
    {
        var accepted = new Accepted<Upper>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Upper()));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync(new string('x', 200));
        var reason = await handler.Unbound.Task.Within("the protocol error");

        Assert.Equal(UnbindKind.ProtocolError, reason.Kind);
        Assert.Contains("64", reason.Message);
    }

    /// <summary>
    /// A binary-safe line protocol, as RESP is: lines split on "\r\n" arrive as bytes and echo back as they came;
    /// "SIZE n" asks for an n-byte block unless it is over the limit, which gets an error line instead.
    /// "INJECT" tries to send lines holding the delimiter.
    /// </summary>
    private sealed class BytesEcho() : LineConnection("\r\n")
    {
        public int Decoded;

        protected override void ReceiveLine(ReadOnlySpan<byte> line)
        {
            if (line.StartsWith("SIZE "u8))
            {
                var size = long.Parse(line[5..]);
                if (size > Limits.MaxBinaryLength) SendLine($"-ERR {size} is over {Limits.MaxBinaryLength}");
                else SetBinaryMode((int)size);
            }
            else if (line.SequenceEqual("INJECT"u8))
            {
                var refused = 0;
                try { SendLine("SET a 1\r\nFLUSHALL"); } catch (ArgumentException) { refused++; }
                try { SendLine("SET a 1\r\nFLUSHALL"u8); } catch (ArgumentException) { refused++; }
                SendLine($"refused {refused}");
            }
            else SendLine(line);
        }

        protected override void ReceiveLine(string line) => Decoded++;

        protected override void ReceiveBinaryData(ReadOnlyMemory<byte> data) => SendLine(data.Span);
    }

    [Fact]
    public async Task A_byte_line_handler_gets_each_line_as_its_bytes_and_sends_them_back_unchanged()
    {
        var accepted = new Accepted<BytesEcho>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new BytesEcho()));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();
        byte[] input = [0xFF, 0x00, 0xC3, (byte)'\n', 0x80, (byte)'\r', (byte)'\n', .. "SIZE 4\r\n"u8, (byte)'\n', (byte)'\r', 0xFE, 0x00, 0x01, (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n'];

        foreach (var b in input) await client.SendAsync(new[] { b }, SocketFlags.None);

        // The first line keeps its lone '\n' and its invalid UTF-8; the block comes back as a line; then "\x01" and an empty line.
        byte[] expected = [0xFF, 0x00, 0xC3, (byte)'\n', 0x80, (byte)'\r', (byte)'\n', (byte)'\n', (byte)'\r', 0xFE, 0x00, (byte)'\r', (byte)'\n', 0x01, (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n'];
        Assert.Equal(expected, await client.ReadExactlyAsync(expected.Length));
        Assert.Equal(0, handler.Decoded);
        Assert.Equal(64, handler.Limits.MaxLineLength); // this class's reactor sets it
    }

    [Fact]
    public async Task SendLine_refuses_a_line_that_holds_the_delimiter_and_sends_none_of_it()
    {
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new BytesEcho());
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);

        await client.SendAsync("INJECT\r\nend\r\n");

        var expected = "refused 2\r\nend\r\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(await client.ReadExactlyAsync(expected.Length)));
    }

    [Fact]
    public async Task A_handler_reads_the_limits_at_their_defaults_and_answers_a_block_over_one_with_its_own_error()
    {
        await using var reactor = Reactors.On(transport);
        var accepted = new Accepted<BytesEcho>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new BytesEcho()));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync("SIZE 16777217\r\nSIZE 3\r\nabc\r\n");

        var expected = "-ERR 16777217 is over 16777216\r\nabc\r\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(await client.ReadExactlyAsync(expected.Length)));
        var limits = handler.Limits; // set before PostInit; the factory hands the handler out before that
        Assert.Equal((64 * 1024, 16 << 20, 16 << 20), (limits.MaxLineLength, limits.MaxBinaryLength, limits.MaxFrameLength));
        Assert.Equal((1 << 20, 256 * 1024, 64 << 20), (limits.HighWaterMark, limits.LowWaterMark, limits.MaxOutbound));
    }

    private sealed class FrameEcho(FrameFormat format) : FramedConnection(format)
    {
        public readonly TaskCompletionSource<UnbindReason> Unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void ReceiveFrame(ReadOnlyMemory<byte> frame) => SendFrame(frame.Span);

        protected override void Unbind(UnbindReason reason) => Unbound.TrySetResult(reason);
    }

    [Fact]
    public async Task A_BinParser_connection_speaks_Packets_nine_digit_frames()
    {
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new FrameEcho(FrameFormat.BinParser));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);

        await client.SendAsync("000000005hel");
        await client.SendAsync("lo000000000");

        Assert.Equal("000000005hello000000000", Encoding.ASCII.GetString(await client.ReadExactlyAsync(23)));
    }

    [Fact]
    public async Task A_bad_BinParser_header_closes_with_a_protocol_error_instead_of_desynchronising()
    {
        var accepted = new Accepted<FrameEcho>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new FrameEcho(FrameFormat.BinParser)));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync("h00000076garbage");
        var reason = await handler.Unbound.Task.Within("the protocol error");
        var (echoed, _) = await client.ReadToEndAsync();

        Assert.Equal(UnbindKind.ProtocolError, reason.Kind);
        Assert.Contains("not 9 decimal digits", reason.Message);
        Assert.Empty(echoed);
    }

    [Fact]
    public async Task An_oversized_length_prefixed_frame_closes_with_a_protocol_error()
    {
        var accepted = new Accepted<FrameEcho>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new FrameEcho(FrameFormat.LengthPrefixed)));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync(new byte[] { 0, 0, 0x10, 0 }, SocketFlags.None); // 4096 > 1 KiB

        var reason = await handler.Unbound.Task.Within("the protocol error");
        Assert.Equal(UnbindKind.ProtocolError, reason.Kind);
        Assert.Contains("exceeds", reason.Message);
    }

    [Fact]
    public async Task A_frame_that_trickles_in_below_the_default_min_data_rate_closes_with_a_protocol_error()
    {
        Assert.Equal(240, _reactor.System.Settings.Config.GetInt("packet.framing.min-data-rate"));
        var accepted = new Accepted<FrameEcho>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new FrameEcho(FrameFormat.LengthPrefixed)));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync(new byte[] { 0, 0, 3, 0xE8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, SocketFlags.None); // 14 of a 1,004-byte frame, then silence

        var reason = await handler.Unbound.Task.Within("the slow frame to be cut off", TimeSpan.FromSeconds(20)); // the 5 s grace, then a check a second
        Assert.Equal(UnbindKind.ProtocolError, reason.Kind);
        Assert.Contains("below packet.framing.min-data-rate (240 bytes/s)", reason.Message);
    }

    [Fact]
    public async Task A_frame_that_arrives_steadily_above_the_min_data_rate_is_delivered_however_long_it_takes()
    {
        await using var reactor = Reactors.On(transport); // the default limits: 16 MiB frames, 240 bytes/s after 5 s
        var server = await reactor.StartServerAsync(Loopback.Host, 0, () => new FrameEcho(FrameFormat.LengthPrefixed));
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var frame = new byte[4 + 4000];
        frame[2] = 0x0F;
        frame[3] = 0xA0;
        Random.Shared.NextBytes(frame.AsSpan(4));

        foreach (var piece in frame.Chunk(50)) // about 500 bytes a second, for about 8 s: past the grace, above the rate
        {
            await client.SendAsync(piece, SocketFlags.None);
            await Task.Delay(100);
        }

        Assert.Equal(frame, await client.ReadExactlyAsync(frame.Length));
    }

    public sealed record Note(string Text, int Number);

    private sealed class NoteConnection : ObjectConnection<Note>
    {
        public readonly ConcurrentQueue<Note> Got = new();
        public readonly TaskCompletionSource<UnbindReason> Unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void ReceiveObject(Note value)
        {
            Got.Enqueue(value);
            if (value.Number < 3) SendObject(value with { Number = value.Number + 1 });
        }

        protected override void Unbind(UnbindReason reason) => Unbound.TrySetResult(reason);
    }

    [Fact]
    public async Task ObjectConnections_exchange_typed_messages_and_reject_garbage()
    {
        var accepted = new Accepted<NoteConnection>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new NoteConnection()));
        var client = _reactor.Connect<NoteConnection>(Loopback.Host, server.LocalEndPoint.Port);
        client.SendObject(new Note("ping", 0));
        var serverSide = await accepted.Next();

        await Bounded.Until(() => client.Got.Count == 2 && serverSide.Got.Count == 2, "the ping-pong to finish");
        Assert.Equal([0, 2], serverSide.Got.Select(n => n.Number));
        Assert.Equal([1, 3], client.Got.Select(n => n.Number));

        using var raw = await Loopback.ConnectAsync(server.LocalEndPoint);
        var rawSide = await accepted.Next();
        await raw.SendAsync(new byte[] { 0, 0, 0, 3, (byte)'{', (byte)'x', (byte)'}' }, SocketFlags.None);
        var reason = await rawSide.Unbound.Task.Within("the protocol error");
        Assert.Equal(UnbindKind.ProtocolError, reason.Kind);
        Assert.Contains("not a valid Note", reason.Message);
    }
}
