// The seed's echo server: every byte a client sends comes straight back.
//   dotnet run --project samples/EchoServer -- [--host HOST] [--port PORT]
// Try it with:  nc 127.0.0.1 11006
using Packet.Actors;
using Packet.Io.Configuration;

var host = Option(args, "--host") ?? "localhost";
var port = int.TryParse(Option(args, "--port") ?? "11006", out var p) ? p : Usage("--port takes a number from 0 to 65535");
var config = PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "echo-server.conf"));

#region echo
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<Echo>(host, port);
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, config);
#endregion

static string? Option(string[] args, string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}

static int Usage(string problem)
{
    Console.Error.WriteLine($"EchoServer: {problem}\nusage: EchoServer [--host HOST] [--port PORT]");
    Environment.Exit(2);
    return 0;
}

#region handler
sealed class Echo : Connection
{
    protected override void PostInit() => Console.WriteLine("Client connected");
    protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    protected override void Unbind(UnbindReason reason) => Console.WriteLine("Client Disconnected");
}
#endregion
