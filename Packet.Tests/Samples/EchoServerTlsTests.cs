using System.Diagnostics;
using System.Text;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Samples;

/// <summary>
/// EchoServer's <c>--tls</c>, in its own process, driven by clients nobody here wrote: OpenSSL's <c>s_client</c> and
/// Python's <c>ssl</c> module, each checking the server's certificate against the test's own, as a real client would.
/// </summary>
public sealed class EchoServerTlsTests : IDisposable
{
    private const string Password = "echo-secret";
    private readonly string _folder = Directory.CreateTempSubdirectory("packet-tls-").FullName;
    private readonly string _pfx;
    private readonly string _pem;

    public EchoServerTlsTests()
    {
        _pfx = TestCertificates.ServerPfx(_folder, Password);
        _pem = Path.Combine(_folder, "server.pem");
        File.WriteAllText(_pem, TestCertificates.Server.ExportCertificatePem());
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("akka-io")]
    [InlineData("sockets")]
    public async Task Openssl_s_client_verifies_the_server_and_gets_its_line_echoed_over_TLS_1_3(string transport)
    {
        await using var server = await SampleServerProcess.StartAsync(1024, "--transport", transport, "--tls", _pfx, "--tls-password", Password);
        var client = Process.Start(new ProcessStartInfo("openssl",
            ["s_client", "-connect", $"127.0.0.1:{server.EndPoint.Port}", "-brief", "-CAfile", _pem, "-verify_return_error", "-verify_hostname", "localhost"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var details = client.StandardError.ReadToEndAsync();
            await client.StandardInput.WriteLineAsync("hello over tls");
            await client.StandardInput.FlushAsync();

            var echoed = await client.StandardOutput.ReadLineAsync().Within("the echo through s_client");
            client.StandardInput.Close(); // s_client ends at the end of its input
            await client.WaitForExitAsync().Within("s_client to end");

            Assert.Equal("hello over tls", echoed);
            var output = await details;
            Assert.Contains("Protocol version: TLSv1.3", output);
            Assert.Contains("Verification: OK", output);
            Assert.Contains("Verified peername: localhost", output);
        }
        finally
        {
            if (!client.HasExited) client.Kill();
            client.Dispose();
        }
    }

    /// <summary>Sends 1 MiB of every byte value before it reads, checks the echo, and ends with close_notify both ways (<c>unwrap</c>).</summary>
    private const string PythonClient = """
        import socket, ssl, sys
        port, cafile = int(sys.argv[1]), sys.argv[2]
        context = ssl.create_default_context(cafile=cafile)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                payload = bytes(range(256)) * 4096
                tls.sendall(payload)
                back = bytearray()
                while len(back) < len(payload):
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    back += chunk
                version = tls.version()
                tls.unwrap()
                print(version, "intact" if bytes(back) == payload else f"CORRUPT: {len(back)} bytes")
        """;

    [Theory]
    [InlineData("akka-io")]
    [InlineData("sockets")]
    public async Task Pythons_ssl_module_verifies_the_server_and_gets_a_MiB_of_every_byte_value_back(string transport)
    {
        await using var server = await SampleServerProcess.StartAsync(1024, "--transport", transport, "--tls", _pfx, "--tls-password", Password);
        var script = Path.Combine(_folder, "client.py");
        await File.WriteAllTextAsync(script, PythonClient);

        var python = await ClientProcess.RunAsync("python3", [script, $"{server.EndPoint.Port}", _pem], TimeSpan.FromSeconds(60));

        Assert.True(python.ExitCode == 0, $"python3 failed: {python.Errors}");
        Assert.Equal("TLSv1.3 intact", python.Text.Trim());
        await Bounded.Until(() => server.Output.Split('\n').Count(l => l.Trim() == "Client Disconnected") == 1, "the server to see the client go");
    }

    [Fact]
    public async Task A_wrong_password_is_refused_with_a_clear_error_before_the_server_starts()
    {
        var server = await ClientProcess.RunAsync("dotnet",
            ["exec", Configuration.ConfigurationTests.SampleDll("EchoServer"), "--port", "0", "--tls", _pfx, "--tls-password", "wrong"], TimeSpan.FromSeconds(60));

        Assert.Equal(1, server.ExitCode);
        Assert.StartsWith($"--tls {_pfx}: ", server.Errors);
        Assert.DoesNotContain("listening on", server.Text);
    }
}
