// The seed's echo server: every byte a client sends comes straight back.
//   dotnet run --project samples/EchoServer -- [--host HOST] [--port PORT] [--transport akka-io|sockets] [--framed]
// Try it with:  nc 127.0.0.1 11006
// --framed echoes length-prefixed frames instead (a 4-byte big-endian length, then the payload), each up to
// packet.framing.max-frame-length: the protocol a test attacks with headers announcing that much.
using System.Text.Json;
using Akka.Configuration;
using Packet.Actors;
using Packet.Io.Configuration;

var (host, port) = SampleArgs.HostAndPort(args, "EchoServer");
var config = PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "echo-server.conf"));
// --transport overrides echo-server.conf's packet.tcp.transport; a name that is neither fails at start.
if (SampleArgs.Option(args, "--transport") is { } transport)
    config = ConfigurationFactory.ParseString($"packet.tcp.transport = {JsonSerializer.Serialize(transport)}").WithFallback(config);

if (args.Contains("--framed"))
{
    Reactor.Run(reactor => Console.WriteLine($"listening on {reactor.StartServer<FrameEcho>(host, port).LocalEndPoint}"), config);
    return;
}

#region echo
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<Echo>(host, port);
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, config);
#endregion

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
