using Akka.Configuration;
using Packet.Actors;

namespace Packet.Tests.Support;

/// <summary>Reactors for tests: quiet logging, questions to the reactor that wait as long as <see cref="Bounded.Default"/>, and an overridable config.</summary>
public static class Reactors
{
    /// <summary>The transports every reactor test suite runs on (<c>packet.tcp.transport</c>).</summary>
    public const string AkkaIo = "akka-io", Sockets = "sockets";

    /// <summary>A reactor on <paramref name="transport"/>, with <paramref name="hocon"/> on top.</summary>
    public static Reactor On(string transport, string? hocon = null) =>
        Start($"packet.tcp.transport = {transport}\n{hocon}");

    public static Reactor Start(string? hocon = null) => Reactor.Start(
        ConfigurationFactory.ParseString(hocon ?? "").WithFallback(ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.stdout-loglevel = ERROR
            packet.reactor.name = test
            packet.reactor.operation-timeout = 30s
            """)));
}
