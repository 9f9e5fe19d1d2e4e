using Akka.Actor;
using Akka.Configuration;
using Packet.Io.Configuration;

namespace Packet.Actors;

/// <summary>The reactor's own settings, read once from <c>packet.reactor</c>.</summary>
internal sealed record ReactorSettings(string Name, TimeSpan OperationTimeout, TimeSpan DrainTimeout)
{
    /// <summary>Reads every key; throws <see cref="ConfigurationException"/> naming the first bad one.</summary>
    public static ReactorSettings From(Config config)
    {
        var name = ConfigReader.Text(config, "packet.reactor.name");
        if (!ActorPath.IsValidPathElement(name) || name.Contains('$'))
            throw new ConfigurationException($"PacketAkka setting 'packet.reactor.name' must be a valid actor system name (letters, digits, '-', '_'), not \"{name}\"");
        return new ReactorSettings(name, ConfigReader.Duration(config, "packet.reactor.operation-timeout"),
            ConfigReader.Duration(config, "packet.reactor.drain-timeout"));
    }
}
