using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class ServerTests(string transport)
{
    [Fact]
    public async Task A_thousand_concurrent_clients_each_get_back_exactly_what_they_sent()
    {
        await using var reactor = Reactors.On(transport);
        var server = await reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder { Echo = true });

        var clients = Enumerable.Range(0, 1000).Select(async i =>
        {
            using var socket = await Loopback.ConnectAsync(server.LocalEndPoint);
            var message = Encoding.ASCII.GetBytes($"client {i:D4} says {new string((char)('a' + i % 26), i % 200)}\n");
            await socket.SendAsync(message, SocketFlags.None);
            var back = await socket.ReadExactlyAsync(message.Length);
            return back.AsSpan().SequenceEqual(message);
        }).ToArray();

        var results = await Task.WhenAll(clients).Within("1,000 echoes", TimeSpan.FromSeconds(60));
        Assert.All(results, Assert.True);
    }

    [Fact]
    public async Task A_stopped_server_frees_its_port_for_a_second_reactor()
    {
        await using var first = Reactors.On(transport);
        await using var second = Reactors.On(transport);
        var accepted = new Accepted<Recorder>();
        var server = await first.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder { Echo = true }));
        var port = server.LocalEndPoint.Port;
        using var open = await Loopback.ConnectAsync(port);
        var openSide = await accepted.Next();

        await server.StopAsync().Within("the server to stop");

        // Its connections close gracefully first: a FIN, not a reset, and Unbind says why.
        var (_, reset) = await open.ReadToEndAsync();
        Assert.False(reset);
        Assert.Equal(UnbindKind.Shutdown, (await openSide.Unbound.Within("the open connection's unbind")).Kind);
        await Assert.ThrowsAsync<SocketException>(() => Loopback.ConnectAsync(port));
        var again = await second.StartServerAsync(Loopback.Host, port, () => new Recorder { Echo = true });

        using var client = await Loopback.ConnectAsync(port);
        await client.SendAsync("hi");
        Assert.Equal("hi"u8.ToArray(), await client.ReadExactlyAsync(2));
        Assert.Equal(port, again.LocalEndPoint.Port);
    }

    [Fact]
    public async Task Stopping_a_server_closes_each_of_its_many_connections_gracefully_before_the_port_is_freed()
    {
        // More connections than the server has connection groups, so every group holds some.
        await using var reactor = Reactors.On(transport);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder { Echo = true }));
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var client = await Loopback.ConnectAsync(server.LocalEndPoint);
                clients.Add(client);
                await client.SendAsync("x");
                Assert.Equal("x"u8.ToArray(), await client.ReadExactlyAsync(1));
            }
            var handlers = new List<Recorder>();
            for (var i = 0; i < clients.Count; i++) handlers.Add(await accepted.Next());

            await server.StopAsync().Within("the server to stop");

            foreach (var client in clients) Assert.False((await client.ReadToEndAsync()).Reset);
            foreach (var handler in handlers) Assert.Equal(UnbindKind.Shutdown, (await handler.Unbound.Within("each connection's unbind")).Kind);
            await Assert.ThrowsAsync<SocketException>(() => Loopback.ConnectAsync(server.LocalEndPoint));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task A_deployment_configured_for_connection_actors_still_builds_each_from_its_own_handler()
    {
        // Akka copies an actor's Props when HOCON deploys its path; the copy must still host this connection's handler.
        await using var reactor = Reactors.On(transport, """akka.actor.deployment { "/reactor/*/*/*" { dispatcher = akka.actor.default-dispatcher } }""");
        var server = await reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder { Echo = true });

        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        await client.SendAsync("deployed");

        Assert.Equal("deployed"u8.ToArray(), await client.ReadExactlyAsync(8));
    }

    [Fact]
    public async Task Binding_a_port_in_use_fails_with_a_clear_error()
    {
        await using var reactor = Reactors.On(transport);
        var server = await reactor.StartServerAsync(Loopback.Host, 0, () => new Recorder());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            reactor.StartServerAsync(Loopback.Host, server.LocalEndPoint.Port, () => new Recorder()));

        Assert.Contains($"cannot listen on 127.0.0.1:{server.LocalEndPoint.Port}", error.Message);
    }

    [Fact]
    public async Task An_exception_in_a_hook_closes_only_that_connection()
    {
        await using var reactor = Reactors.On(transport);
        var errors = new ConcurrentQueue<(Connection? Connection, Exception Error)>();
        reactor.ErrorHandler = (c, e) => errors.Enqueue((c, e));
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder
        {
            Echo = true,
            OnData = (_, data) => { if (data.Span[0] == (byte)'!') throw new InvalidOperationException("bad input"); },
        }));
        using var good = await Loopback.ConnectAsync(server.LocalEndPoint);
        var goodSide = await accepted.Next();
        using var bad = await Loopback.ConnectAsync(server.LocalEndPoint);
        var badSide = await accepted.Next();

        await bad.SendAsync("!");
        var reason = await badSide.Unbound.Within("the throwing connection to close");
        await good.SendAsync("still here");

        Assert.Equal("still here"u8.ToArray(), await good.ReadExactlyAsync(10));
        Assert.Equal(UnbindKind.HandlerException, reason.Kind);
        Assert.Equal("bad input", reason.Exception?.Message);
        var (failed, error) = Assert.Single(errors);
        Assert.Same(badSide, failed);
        Assert.Same(reason.Exception, error);
        Assert.False(goodSide.Unbound.IsCompleted);
    }

    [Fact]
    public async Task Two_reactors_in_one_process_run_independently()
    {
        var one = Reactors.On(transport);
        await using var two = Reactors.On(transport);
        var first = await one.StartServerAsync(Loopback.Host, 0, () => new Recorder { Echo = true });
        var second = await two.StartServerAsync(Loopback.Host, 0, () => new Recorder { Echo = true });
        using var client = await Loopback.ConnectAsync(second.LocalEndPoint);
        using var other = await Loopback.ConnectAsync(first.LocalEndPoint);
        await Bounded.Until(() => one.ConnectionCount == 1 && two.ConnectionCount == 1, "each reactor to count its own connection");

        await one.StopAsync().Within("the first reactor to stop");
        await client.SendAsync("alive");

        Assert.Equal("alive"u8.ToArray(), await client.ReadExactlyAsync(5));
        Assert.Equal(1, two.ConnectionCount);
    }

    [Fact]
    public async Task Accepts_above_max_connections_are_refused_and_the_server_keeps_serving()
    {
        await using var reactor = Reactors.On(transport, "packet.tcp.max-connections = 3");
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder { Echo = true }));
        var held = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await Loopback.ConnectAsync(server.LocalEndPoint));
            await accepted.Next();
        }

        using var refused = await Loopback.ConnectAllowingResetAsync(server.LocalEndPoint);
        var (data, _) = refused.Connected ? await refused.ReadToEndAsync() : ([], true);
        Assert.Empty(data);
        Assert.Equal(3, reactor.ConnectionCount);

        held[0].Dispose();
        await Bounded.Until(() => reactor.ConnectionCount == 2, "the closed slot to free");
        using var next = await Loopback.ConnectAsync(server.LocalEndPoint);
        await next.SendAsync("ok");
        Assert.Equal("ok"u8.ToArray(), await next.ReadExactlyAsync(2));
        foreach (var socket in held) socket.Dispose();
    }

    [Fact]
    public async Task A_flood_above_max_connections_logs_the_first_refusal_at_once_and_then_counts()
    {
        const int refusals = 10;
        await using var reactor = Reactors.On(transport, "packet.tcp { max-connections = 1, refusal-log-interval = 2s }");
        var warnings = new Warnings(reactor.System);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        using var held = await Loopback.ConnectAsync(server.LocalEndPoint);
        await accepted.Next();

        for (var i = 0; i < refusals; i++)
        {
            using var refused = await Loopback.ConnectAllowingResetAsync(server.LocalEndPoint);
            if (refused.Connected) await refused.ReadToEndAsync(); // ends when the server resets it
        }

        // A warning "refusing <peer>: ..." counts one; "refused <n> more connections ..." counts n.
        int Logged() => warnings.Messages.Where(m => m.StartsWith("refus", StringComparison.Ordinal))
            .Sum(m => m.StartsWith("refused ", StringComparison.Ordinal) ? int.Parse(m.Split(' ')[1]) : 1);
        await Bounded.Until(() => Logged() == refusals, $"all {refusals} refusals to be logged");
        var logged = warnings.Messages.Where(m => m.StartsWith("refus", StringComparison.Ordinal)).ToList();
        Assert.True(logged.Count < refusals, $"{logged.Count} warnings for {refusals} refusals:\n{string.Join("\n", logged)}");
        Assert.StartsWith("refusing 127.0.0.1:", logged[0]);
        Assert.Contains("packet.tcp.max-connections", logged[0]);
        Assert.Contains("packet.tcp.refusal-log-interval", logged[0]);
        Assert.Equal(1, reactor.ConnectionCount);
    }

    [Fact]
    public async Task A_connect_above_max_connections_fails_at_once_without_dialling_and_a_freed_slot_dials_again()
    {
        await using var reactor = Reactors.On(transport, "packet.tcp.max-connections = 2");
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        var client = reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        await client.Completed.Within("the first connect");
        await accepted.Next(); // two connections now: the client and the side the server accepted

        var over = reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        var reason = await over.Unbound.Within("the connect over the limit to fail");

        Assert.Equal(UnbindKind.ConnectFailed, reason.Kind);
        Assert.Contains("packet.tcp.max-connections", reason.Message);
        Assert.Equal(["PostInit", "Unbind:ConnectFailed"], over.Events);
        await Bounded.Until(() => reactor.ConnectionCount == 2, "the refused dial to release its count");

        client.CloseConnection();
        await Bounded.Until(() => reactor.ConnectionCount == 0, "both sides of the closed connection to go");
        var again = reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        await again.Completed.Within("a connect into the freed slot");
    }

    [Fact]
    public async Task The_per_connection_callback_injects_state_into_each_accepted_instance()
    {
        await using var reactor = Reactors.On(transport);
        var counter = 0;
        var accepted = new Accepted<Greeter>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Greeter()),
            connection => ((Greeter)connection).Greet($"you are #{Interlocked.Increment(ref counter)}\n"));

        using var first = await Loopback.ConnectAsync(server.LocalEndPoint);
        Assert.Equal("you are #1\n"u8.ToArray(), await first.ReadExactlyAsync(11));
        using var second = await Loopback.ConnectAsync(server.LocalEndPoint);
        Assert.Equal("you are #2\n"u8.ToArray(), await second.ReadExactlyAsync(11));
    }

    private sealed class Greeter : Connection
    {
        public void Greet(string text) => SendData(text);
    }

    /// <summary>
    /// Fifty fresh connections, because the race this guards against is in the first moments of a
    /// connection: calls made before its actor exists are queued, and later calls must not overtake them.
    /// </summary>
    [Fact]
    public async Task SendData_from_another_thread_is_queued_to_the_connection_in_order()
    {
        await using var reactor = Reactors.On(transport);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        var expected = string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i:D4}"));

        for (var round = 0; round < 50; round++)
        {
            using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
            var serverSide = await accepted.Next();

            await Task.Run(() =>
            {
                for (var i = 0; i < 1000; i++) serverSide.SendData($"{i:D4}");
            });

            Assert.Equal(expected, Encoding.ASCII.GetString(await client.ReadExactlyAsync(4000)));
        }
    }
}
