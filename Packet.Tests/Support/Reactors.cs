using Akka.Configuration;
using Packet.Actors;

namespace Packet.Tests.Support;

/// <summary>Reactors for tests: quiet logging and an overridable config.</summary>
public static class Reactors
{
    public static Reactor Start(string? hocon = null) => Reactor.Start(
        ConfigurationFactory.ParseString(hocon ?? "").WithFallback(ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.stdout-loglevel = ERROR
            packet.reactor.name = test
            """)));
}
