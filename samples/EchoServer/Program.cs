// The seed's echo server: every byte a client sends comes straight back.
//   dotnet run --project samples/EchoServer -- [--host HOST] [--port PORT] [--transport akka-io|sockets] [--framed] [--metrics]
//                                               [--tls CERT.pfx [--tls-password PASSWORD]]
// Try it with:  nc 127.0.0.1 11006
// With --tls:   openssl s_client -connect 127.0.0.1:11006
// --framed echoes length-prefixed frames instead (a 4-byte big-endian length, then the payload), each up to
// packet.framing.max-frame-length: the protocol a test attacks with headers announcing that much.
using System.CommandLine;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Packet.Actors;
using Packet.Io.Configuration;

var transport = new Option<string>("--transport") { Description = "Overrides echo-server.conf's packet.tcp.transport." };
transport.AcceptOnlyFromAmong("akka-io", "sockets");
var framed = new Option<bool>("--framed") { Description = "Echoes 4-byte big-endian length-prefixed frames instead of bytes." };
var metrics = new Option<bool>("--metrics") { Description = "Prints the reactor's PacketAkka meter every 5 s (OpenTelemetry's console exporter)." };
var tlsFile = new Option<FileInfo>("--tls") { Description = "Serves TLS, with the certificate and private key in this PKCS#12 (.pfx) file." };
var tlsPassword = new Option<string>("--tls-password") { Description = "The password of the --tls file, if it has one." };
var parsed = new RootCommand("The seed's echo server: every byte a client sends comes straight back.")
{
    SampleArgs.Host, SampleArgs.Port, transport, framed, metrics, tlsFile, tlsPassword,
}.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var (host, port) = (parsed.GetValue(SampleArgs.Host)!, parsed.GetValue(SampleArgs.Port));
#region tls
SslServerAuthenticationOptions? tls = null;
if (parsed.GetValue(tlsFile) is { } pfx)
{
    try
    {
        tls = new SslServerAuthenticationOptions { ServerCertificate = X509CertificateLoader.LoadPkcs12FromFile(pfx.FullName, parsed.GetValue(tlsPassword)) };
    }
    catch (Exception e) when (e is CryptographicException or IOException)
    {
        Console.Error.WriteLine($"--tls {pfx}: {e.Message}");
        return 1;
    }
}
#endregion
#region options
var config = new ReactorOptions
{
    Transport = parsed.GetValue(transport) switch { "sockets" => ReactorTransport.Sockets, "akka-io" => ReactorTransport.AkkaIo, _ => null },
    Config = PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "echo-server.conf")),
}.ToConfig();
#endregion

using var meters = parsed.GetValue(metrics)
    ? Sdk.CreateMeterProviderBuilder()
        .AddMeter("PacketAkka")
        .AddConsoleExporter((_, reader) => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 5000)
        .Build()
    : null;

if (parsed.GetValue(framed))
{
    Reactor.Run(reactor => Console.WriteLine($"listening on {reactor.StartServer<FrameEcho>(host, port, tls: tls).LocalEndPoint}"), config);
    return 0;
}

#region echo
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<Echo>(host, port, tls: tls);
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, config);
#endregion
return 0;

#region handler
sealed class Echo : Connection
{
    protected override void PostInit() => Console.WriteLine("Client connected");
    protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    protected override void Unbind(UnbindReason reason) => Console.WriteLine("Client Disconnected");
}
#endregion

sealed class FrameEcho : FramedConnection
{
    protected override void ReceiveFrame(ReadOnlyMemory<byte> frame) => SendFrame(frame.Span);
}
