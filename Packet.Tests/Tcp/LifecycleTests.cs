using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class LifecycleTests(string transport) : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactors.On(transport);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _reactor.StopAsync();

    [Fact]
    public async Task Server_and_client_hooks_run_in_EventMachine_order()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0,
            accepted.Factory(() => new Recorder { Echo = true }),
            connection => ((Recorder)connection).Record("onAccept"));

        var client = _reactor.Connect(Loopback.Host, server.LocalEndPoint.Port, new Recorder(),
            c => c.Record("init"));
        await client.Completed.Within("the client to connect");
        client.SendData("ping");
        await client.ReceivedAtLeast(4);
        client.CloseConnectionAfterWriting();

        var serverSide = await accepted.Next();
        await serverSide.Unbound.Within("the server side to unbind");
        await client.Unbound.Within("the client side to unbind");

        Assert.Equal(["PostInit", "init", "ConnectionCompleted", "ReceiveData", "Unbind:LocalClose"], client.Events);
        Assert.Equal(["PostInit", "onAccept", "ReceiveData", "Unbind:PeerClosed"], serverSide.Events);
    }

    [Fact]
    public async Task A_refused_connect_unbinds_once_with_a_reason_and_never_completes()
    {
        var client = _reactor.Connect<Recorder>(Loopback.Host, Loopback.ClosedPort());

        var reason = await client.Unbound.Within("the refused connect to unbind");

        Assert.Equal(UnbindKind.ConnectFailed, reason.Kind);
        Assert.True(reason.Message.Contains("refused", StringComparison.OrdinalIgnoreCase), reason.Message);
        Assert.Equal(["PostInit", "Unbind:ConnectFailed"], client.Events);
        await Bounded.Until(() => _reactor.ConnectionCount == 0, "the connection count to fall to zero");
        Assert.Equal(1, client.UnbindCount);
    }

    [Fact]
    public async Task Data_sent_and_closed_after_writing_before_the_connect_completes_is_dialled_written_and_closed()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));

        var client = _reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        client.SendData("queued before the connect");
        client.CloseConnectionAfterWriting();

        var reason = await client.Unbound.Within("the client to close after writing");
        Assert.Equal(["PostInit", "ConnectionCompleted", "Unbind:LocalClose"], client.Events);
        Assert.Equal(UnbindKind.LocalClose, reason.Kind);
        var serverSide = await accepted.Next();
        Assert.Equal(UnbindKind.PeerClosed, (await serverSide.Unbound.Within("the server side to see the close")).Kind);
        Assert.Equal("queued before the connect", Encoding.ASCII.GetString(serverSide.Received));
    }

    [Fact]
    public async Task Data_sent_and_closed_after_writing_before_a_refused_connect_reports_the_refusal()
    {
        var client = _reactor.Connect<Recorder>(Loopback.Host, Loopback.ClosedPort());
        client.SendData("never delivered");
        client.CloseConnectionAfterWriting();

        var reason = await client.Unbound.Within("the refused connect to unbind");

        Assert.Equal(UnbindKind.ConnectFailed, reason.Kind);
        Assert.Equal(["PostInit", "Unbind:ConnectFailed"], client.Events);
    }

    [Fact]
    public async Task Every_dial_to_a_peer_that_resets_at_once_gets_one_prompt_outcome()
    {
        // The reset can come before the dialler has set the socket's options or read its addresses; a dial
        // that lost that race was never reported, and waited for its connect timeout (60 s here).
        const int connects = 200, wave = 20;
        await using var reactor = Reactors.On(transport, "packet.tcp.connect-timeout = 60s");
        using var peer = new ResettingListener();

        var clients = new List<Recorder>();
        for (var dialled = 0; dialled < connects; dialled += wave)
        {
            var round = Enumerable.Range(0, wave).Select(_ => reactor.Connect<Recorder>(Loopback.Host, peer.Port)).ToList();
            foreach (var client in round) await client.Unbound.Within("each dial's outcome");
            clients.AddRange(round);
        }

        foreach (var client in clients)
        {
            Assert.Contains((await client.Unbound).Kind, new[] { UnbindKind.ConnectFailed, UnbindKind.Error, UnbindKind.PeerClosed });
            Assert.Equal(1, client.UnbindCount);
        }
        await Bounded.Until(() => reactor.ConnectionCount == 0, "every dial to release its connection");
    }

    [Fact]
    public async Task A_pending_connect_times_out_with_its_own_reason_and_its_socket_is_closed()
    {
        // A listener that never accepts and has a full queue: the kernel drops further SYNs, so a connect stays pending.
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var filler = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                fillers.Add(filler);
                using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try { await filler.ConnectAsync(listener.LocalEndPoint!, cts.Token); }
                catch (OperationCanceledException)
                {
                    filler.Dispose(); // the queue is full; this one would stay pending
                    break;
                }
            }

            var client = _reactor.Connect<Recorder>(Loopback.Host, port, c => c.PendingConnectTimeout = TimeSpan.FromMilliseconds(300));
            var reason = await client.Unbound.Within("the connect to time out");

            Assert.Equal(UnbindKind.ConnectTimeout, reason.Kind);
            Assert.Equal(["PostInit", "Unbind:ConnectTimeout"], client.Events);
            // Left open, the kernel would go on retrying the SYN for about two minutes, and could still connect.
            await Bounded.Until(() => Loopback.DialsPendingTo(port) == 0, "the timed-out dial's socket to close", TimeSpan.FromSeconds(5));
        }
        finally
        {
            foreach (var filler in fillers) filler.Dispose();
        }
    }

    [Fact]
    public async Task Reconnect_dials_again_with_the_same_instance_and_no_second_PostInit()
    {
        var accepted = new Accepted<Recorder>();
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        var client = _reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        await client.Completed.Within("the first connect");
        var first = await accepted.Next();
        first.CloseConnection();
        await Bounded.Until(() => client.UnbindCount == 1, "the client to see the close");

        var again = _reactor.Reconnect(Loopback.Host, server.LocalEndPoint.Port, client);
        await Bounded.Until(() => client.Events.Count(e => e == "ConnectionCompleted") == 2, "the second connect");
        again.SendData("still me");
        var second = await accepted.Next();
        await second.ReceivedAtLeast(8);

        Assert.Same(client, again);
        Assert.Equal(["PostInit", "ConnectionCompleted", "Unbind:Error", "ConnectionCompleted"], client.Events);
    }

    [Fact]
    public async Task Stopping_a_reactor_closes_each_of_its_many_outbound_connections_gracefully()
    {
        // More outbound connections than the reactor has connection groups, to a plain socket listener.
        // They are dialled in waves that fit any listen backlog: a burst beyond it would have the
        // kernel drop SYNs, and a loaded machine then waits out their retransmits and connect-timeout.
        const int count = 200, wave = 50;
        await using var reactor = Reactors.On(transport);
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(count);
        var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        var peers = new List<System.Net.Sockets.Socket>();
        try
        {
            var clients = new List<Recorder>();
            while (clients.Count < count)
            {
                var dialled = Enumerable.Range(0, wave).Select(_ => reactor.Connect<Recorder>(Loopback.Host, port)).ToList();
                for (var i = 0; i < wave; i++) peers.Add(await listener.AcceptAsync().Within("each accept"));
                foreach (var client in dialled) await client.Completed.Within("each connect");
                clients.AddRange(dialled);
            }

            await reactor.StopAsync().Within("the reactor to stop");

            foreach (var peer in peers) Assert.False((await peer.ReadToEndAsync()).Reset, "a connection was reset instead of closed");
            foreach (var client in clients)
            {
                Assert.Equal(UnbindKind.Shutdown, (await client.Unbound).Kind);
                Assert.Equal(1, client.UnbindCount);
            }
        }
        finally
        {
            foreach (var peer in peers) peer.Dispose();
        }
    }

    [Fact]
    public async Task Every_connection_unbinds_exactly_once_with_Shutdown_when_the_reactor_stops()
    {
        await using var reactor = Reactors.On(transport);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        var client = reactor.Connect<Recorder>(Loopback.Host, server.LocalEndPoint.Port);
        await client.Completed.Within("the connect");
        var serverSide = await accepted.Next();
        Assert.Equal(2, reactor.ConnectionCount);

        await reactor.StopAsync().Within("the reactor to stop");

        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => Loopback.ConnectAsync(server.LocalEndPoint));
        Assert.Equal(UnbindKind.Shutdown, (await client.Unbound).Kind);
        Assert.Equal(UnbindKind.Shutdown, (await serverSide.Unbound).Kind);
        Assert.Equal(1, client.UnbindCount);
        Assert.Equal(1, serverSide.UnbindCount);
    }

    [Fact]
    public async Task The_stop_runs_in_the_actor_systems_CoordinatedShutdown_in_order_with_other_phases_whoever_starts_it()
    {
        await using var reactor = Reactors.On(transport);
        var accepted = new Accepted<Recorder>();
        var server = await reactor.StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new Recorder()));
        var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var serverSide = await accepted.Next();
        var shutdown = Akka.Actor.CoordinatedShutdown.Get(reactor.System);
        int? before = null, after = null;
        shutdown.AddTask(Akka.Actor.CoordinatedShutdown.PhaseBeforeServiceUnbind, "test-before", () =>
        {
            before = reactor.ConnectionCount;
            return Task.FromResult(Akka.Done.Instance);
        });
        shutdown.AddTask(Akka.Actor.CoordinatedShutdown.PhaseClusterShutdown, "test-after", () =>
        {
            after = reactor.ConnectionCount;
            return Task.FromResult(Akka.Done.Instance);
        });

        // As an application's own shutdown would, not through the reactor's StopAsync.
        await reactor.System.Terminate().Within("the actor system to terminate");
        await reactor.WhenStopped.Within("the reactor to stop");

        Assert.Equal(1, before); // other actors' earlier phases run while the reactor still serves
        Assert.Equal(0, after); // and later ones once its connections have closed
        Assert.Equal(UnbindKind.Shutdown, (await serverSide.Unbound).Kind);
        client.Dispose();
    }
}
