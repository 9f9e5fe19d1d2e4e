using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Tcp;

/// <summary>TLS on connections, against .NET's own SslStream as the peer. Run once per transport: see <see cref="TransportSuites"/>.</summary>
public abstract class TlsTests(string transport) : IAsyncLifetime
{
    private readonly Reactor _reactor = Reactors.On(transport);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _reactor.StopAsync();

    /// <summary>Echoes what it reads; greets first if told to; records its handshake and its end.</summary>
    private sealed class TlsEcho(string? greeting = null) : Connection
    {
        public readonly TaskCompletionSource<TlsSession> Handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource<UnbindReason> Unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile bool DataBeforeHandshake;

        protected override void PostInit()
        {
            if (greeting is not null) SendData(greeting);
        }

        protected override void TlsHandshakeCompleted() => Handshake.TrySetResult(Tls!);

        protected override void ReceiveData(ReadOnlyMemory<byte> data)
        {
            if (Tls is null) DataBeforeHandshake = true;
            SendData(data.Span);
        }

        protected override void Unbind(UnbindReason reason) => Unbound.TrySetResult(reason);
    }

    private async Task<(Server Server, Accepted<TlsEcho> Accepted)> TlsServerAsync(SslServerAuthenticationOptions options, string? greeting = null, Reactor? reactor = null)
    {
        var accepted = new Accepted<TlsEcho>();
        var server = await (reactor ?? _reactor).StartServerAsync(Loopback.Host, 0, accepted.Factory(() => new TlsEcho(greeting)), tls: options);
        return (server, accepted);
    }

    private static async Task<(TcpClient Tcp, SslStream Tls)> TlsClientAsync(int port, SslClientAuthenticationOptions options)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port).Within("the connect");
        var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(options).Within("the client's handshake");
        return (tcp, tls);
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer).AsTask().Within($"{count} bytes");
        return buffer;
    }

    [Fact]
    public async Task A_TLS_server_echoes_8_MiB_to_an_SslStream_client_after_reporting_its_handshake()
    {
        var (server, accepted) = await TlsServerAsync(TestCertificates.ServerOptions(alpn: "packet"));
        var (tcp, tls) = await TlsClientAsync(server.LocalEndPoint.Port, TestCertificates.ClientOptions(alpn: "packet"));
        using var _ = tcp;
        var handler = await accepted.Next();
        var payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);

        var session = await handler.Handshake.Task.Within("the handshake hook");
        var reading = ReadExactlyAsync(tls, payload.Length);
        for (var at = 0; at < payload.Length; at += 100_000) await tls.WriteAsync(payload.AsMemory(at, Math.Min(100_000, payload.Length - at)));

        Assert.Equal(payload, await reading);
        Assert.Equal(SslProtocols.Tls13, session.Protocol);
        Assert.Equal("packet", session.ApplicationProtocol.ToString());
        Assert.Null(session.RemoteCertificate);
        Assert.False(handler.DataBeforeHandshake);
        await tls.ShutdownAsync();
        tcp.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(UnbindKind.PeerClosed, (await handler.Unbound.Task.Within("the unbind")).Kind);
    }

    [Fact]
    public async Task A_client_that_sends_16_MiB_before_it_reads_gets_all_back_and_its_close_is_seen()
    {
        // The echo fills the server's socket buffer while nobody reads, so its sends wait: the ciphertext written
        // meanwhile must still go out, and be acknowledged, or the output never drains and reading never resumes.
        var (server, accepted) = await TlsServerAsync(TestCertificates.ServerOptions());
        var (tcp, tls) = await TlsClientAsync(server.LocalEndPoint.Port, TestCertificates.ClientOptions());
        using var _ = tcp;
        var handler = await accepted.Next();
        var payload = RandomNumberGenerator.GetBytes(16 * 1024 * 1024);

        var writing = tls.WriteAsync(payload).AsTask();
        await Bounded.Until(() => !handler.IsWritable, "the echo to pass the high-water mark while the client does not read");
        var back = await ReadExactlyAsync(tls, payload.Length);
        await writing.Within("the client's write");
        await tls.ShutdownAsync();
        tcp.Client.Shutdown(SocketShutdown.Send);

        Assert.Equal(payload, back);
        Assert.Equal(UnbindKind.PeerClosed, (await handler.Unbound.Task.Within("the unbind")).Kind);
        Assert.Equal(0, await tls.ReadAsync(new byte[1]).AsTask().Within("the server's close_notify"));
    }

    [Fact]
    public async Task What_a_TLS_server_sends_in_PostInit_goes_out_encrypted_after_the_handshake()
    {
        var (server, _) = await TlsServerAsync(TestCertificates.ServerOptions(), greeting: "hello\n");
        var (tcp, tls) = await TlsClientAsync(server.LocalEndPoint.Port, TestCertificates.ClientOptions());
        using var _ = tcp;

        Assert.Equal("hello\n", Encoding.ASCII.GetString(await ReadExactlyAsync(tls, 6)));
    }

    [Fact]
    public async Task A_plaintext_client_on_a_TLS_server_ends_with_TlsHandshakeFailed()
    {
        var (server, accepted) = await TlsServerAsync(TestCertificates.ServerOptions());
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        await client.SendAsync("GET / HTTP/1.0\r\n\r\n");

        var reason = await handler.Unbound.Task.Within("the unbind");
        Assert.Equal(UnbindKind.TlsHandshakeFailed, reason.Kind);
        Assert.StartsWith("the TLS handshake failed", reason.Message);
        Assert.False(handler.DataBeforeHandshake);
        await client.ReadToEndAsync(); // closed: the reactor sent nothing in clear that a test could read and the peer is gone
    }

    [Fact]
    public async Task A_client_that_never_starts_its_handshake_is_closed_at_the_handshake_timeout()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), _reactor.System.Settings.Config.GetTimeSpan("packet.tcp.tls-handshake-timeout"));
        await using var reactor = Reactors.On(transport, "packet.tcp.tls-handshake-timeout = 1s");
        var (server, accepted) = await TlsServerAsync(TestCertificates.ServerOptions(), reactor: reactor);
        using var client = await Loopback.ConnectAsync(server.LocalEndPoint);
        var handler = await accepted.Next();

        var reason = await handler.Unbound.Task.Within("the handshake timeout", TimeSpan.FromSeconds(10));

        Assert.Equal(UnbindKind.TlsHandshakeFailed, reason.Kind);
        Assert.Equal("the TLS handshake did not complete within 00:00:01", reason.Message);
    }

    [Fact]
    public async Task A_server_that_requires_a_client_certificate_sees_it_and_refuses_a_client_without_one()
    {
        var (server, accepted) = await TlsServerAsync(TestCertificates.ServerOptions(requireClientCertificate: true));

        var (tcp, tls) = await TlsClientAsync(server.LocalEndPoint.Port, TestCertificates.ClientOptions(certificate: TestCertificates.Client));
        using (tcp)
        {
            await tls.WriteAsync("x"u8.ToArray());
            await ReadExactlyAsync(tls, 1); // TLS 1.3 checks the client's certificate after the client's side is done
            var session = await (await accepted.Next()).Handshake.Task.Within("the handshake hook");
            Assert.Equal("CN=packet-test-client", session.RemoteCertificate?.Subject);
        }

        using var plain = new TcpClient();
        await plain.ConnectAsync(IPAddress.Loopback, server.LocalEndPoint.Port);
        using var refused = new SslStream(plain.GetStream());
        await refused.AuthenticateAsClientAsync(TestCertificates.ClientOptions()).Within("the client's side of the handshake");
        var handler = await accepted.Next();
        var reason = await handler.Unbound.Task.Within("the unbind");
        Assert.Equal(UnbindKind.TlsHandshakeFailed, reason.Kind);
    }

    /// <summary>Dials with TLS from <see cref="PostInit"/>, sends a line, and keeps what comes back.</summary>
    private sealed class TlsClient : Connection
    {
        public readonly TaskCompletionSource<string> Reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly StringBuilder _received = new();

        protected override void PostInit()
        {
            StartTls(TestCertificates.ClientOptions());
            SendData("ping\n"); // sent once the handshake completes, encrypted
        }

        protected override void ReceiveData(ReadOnlyMemory<byte> data)
        {
            _received.Append(Encoding.ASCII.GetString(data.Span));
            if (_received.ToString().EndsWith('\n')) Reply.TrySetResult($"{_received} over {Tls?.Protocol}");
        }
    }

    [Fact]
    public async Task A_connection_dialled_with_StartTls_in_PostInit_talks_to_an_SslStream_server()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serving = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(accepted.GetStream());
            await tls.AuthenticateAsServerAsync(TestCertificates.ServerOptions());
            var line = await ReadExactlyAsync(tls, 5);
            await tls.WriteAsync(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(line).ToUpperInvariant()));
            try
            {
                _ = await tls.ReadAsync(new byte[1]); // until the client goes
            }
            catch (IOException)
            {
                // CloseConnection resets the connection
            }
        });

        var client = _reactor.Connect<TlsClient>("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);

        Assert.Equal("PING\n over Tls13", await client.Reply.Task.Within("the reply"));
        client.CloseConnection();
        await serving.Within("the server");
    }

    /// <summary>A line protocol with STARTTLS: "STARTTLS" gets "220 ready" in clear, then TLS; other lines echo.</summary>
    private sealed class StartTlsLines : LineConnection
    {
        protected override void ReceiveLine(string line)
        {
            if (line == "STARTTLS")
            {
                SendLine("220 ready");
                StartTls(TestCertificates.ServerOptions());
            }
            else SendLine($"{line} ({(Tls is null ? "clear" : "tls")})");
        }
    }

    [Fact]
    public async Task STARTTLS_answers_in_clear_and_goes_on_in_TLS()
    {
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new StartTlsLines());
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.LocalEndPoint.Port);
        var stream = tcp.GetStream();

        await stream.WriteAsync("hi\nSTARTTLS\n"u8.ToArray());
        Assert.Equal("hi (clear)\n220 ready\n", Encoding.ASCII.GetString(await ReadExactlyAsync(stream, 21)));
        await using var tls = new SslStream(stream);
        await tls.AuthenticateAsClientAsync(TestCertificates.ClientOptions()).Within("the handshake");
        await tls.WriteAsync("secret\n"u8.ToArray());

        Assert.Equal("secret (tls)\n", Encoding.ASCII.GetString(await ReadExactlyAsync(tls, 13)));
    }

    /// <summary>Sends <see cref="Size"/> bytes and closes after writing them.</summary>
    private sealed class Sender : Connection
    {
        public const int Size = 4 * 1024 * 1024;

        protected override void TlsHandshakeCompleted()
        {
            var block = new byte[64 * 1024];
            for (var i = 0; i < Size / block.Length; i++)
            {
                block.AsSpan().Fill((byte)i);
                SendData(block);
            }
            CloseConnectionAfterWriting();
        }
    }

    [Fact]
    public async Task Closing_after_writing_delivers_every_byte_then_close_notify()
    {
        var server = await _reactor.StartServerAsync(Loopback.Host, 0, () => new Sender(), tls: TestCertificates.ServerOptions());
        var (tcp, tls) = await TlsClientAsync(server.LocalEndPoint.Port, TestCertificates.ClientOptions());
        using var _ = tcp;

        var all = await ReadExactlyAsync(tls, Sender.Size);
        var end = await tls.ReadAsync(new byte[1]).AsTask().Within("the end of the stream");

        Assert.Equal(0, end); // a clean TLS end: SslStream reports a truncated stream as an IOException instead
        Assert.All(Enumerable.Range(0, Sender.Size / 65536), i => Assert.Equal((byte)i, all[i * 65536 + 65535]));
    }

    [Fact]
    public async Task Server_options_without_a_certificate_are_refused_at_once()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => _reactor.StartServerAsync(Loopback.Host, 0, () => new TlsEcho(), tls: new SslServerAuthenticationOptions()));

        Assert.Contains("need a certificate", error.Message);
    }
}
