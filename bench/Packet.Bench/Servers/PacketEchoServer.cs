using Akka.Configuration;
using Packet.Actors;

namespace Packet.Bench.Servers;

/// <summary>PacketAkka's echo: the samples' EchoServer without its console lines, on the transport given, in TLS if asked.</summary>
public static class PacketEchoServer
{
    public static readonly Config Quiet = ConfigurationFactory.ParseString("akka.loglevel = WARNING\npacket.reactor.name = bench")
        .WithFallback(Environment.GetEnvironmentVariable("PACKET_BENCH_HOCON") is { Length: > 0 } extra ? ConfigurationFactory.ParseString(extra) : Config.Empty);

    public static Task RunAsync(int port, string transport, bool tls = false) => Reactor.RunAsync(async reactor =>
    {
        var server = await reactor.StartServerAsync<Echo>("127.0.0.1", port, tls: tls ? BenchCertificate.ServerOptions() : null);
        Console.WriteLine($"listening on {server.LocalEndPoint}");
    }, ConfigurationFactory.ParseString($"packet.tcp.transport = {transport}").WithFallback(Quiet));

    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }
}
