// The seed's echo server: every byte a client sends comes straight back.
//   dotnet run --project samples/EchoServer -- [--host HOST] [--port PORT] [--transport akka-io|sockets] [--framed] [--metrics]
// Try it with:  nc 127.0.0.1 11006
// --framed echoes length-prefixed frames instead (a 4-byte big-endian length, then the payload), each up to
// packet.framing.max-frame-length: the protocol a test attacks with headers announcing that much.
using System.CommandLine;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Packet.Actors;
using Packet.Io.Configuration;

var transport = new Option<string>("--transport") { Description = "Overrides echo-server.conf's packet.tcp.transport." };
transport.AcceptOnlyFromAmong("akka-io", "sockets");
var framed = new Option<bool>("--framed") { Description = "Echoes 4-byte big-endian length-prefixed frames instead of bytes." };
var metrics = new Option<bool>("--metrics") { Description = "Prints the reactor's PacketAkka meter every 5 s (OpenTelemetry's console exporter)." };
var parsed = new RootCommand("The seed's echo server: every byte a client sends comes straight back.")
{
    SampleArgs.Host, SampleArgs.Port, transport, framed, metrics,
}.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var (host, port) = (parsed.GetValue(SampleArgs.Host)!, parsed.GetValue(SampleArgs.Port));
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
    Reactor.Run(reactor => Console.WriteLine($"listening on {reactor.StartServer<FrameEcho>(host, port).LocalEndPoint}"), config);
    return 0;
}

#region echo
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<Echo>(host, port);
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
