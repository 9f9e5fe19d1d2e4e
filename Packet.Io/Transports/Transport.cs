using Akka.Actor;
using Packet.Io.Configuration;
using Packet.Io.Transports.AkkaIo;
using Packet.Io.Transports.Sockets;

namespace Packet.Io.Transports;

/// <summary>Picks the transport that <c>packet.tcp.transport</c> names.</summary>
internal static class Transport
{
    public static ITransport Create(TransportSettings settings, ActorSystem system) => settings.Transport switch
    {
        "sockets" => new SocketsTransport(settings),
        _ => new AkkaIoTransport(system, settings),
    };
}
