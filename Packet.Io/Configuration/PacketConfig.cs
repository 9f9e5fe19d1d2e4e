using System.Reflection;
using Akka.Configuration;

namespace Packet.Io.Configuration;

/// <summary>
/// Loads the embedded <c>reference.conf</c> of each PacketAkka assembly and layers user overrides on
/// top. Every default lives in those files; settings records read from the result without fallback
/// constants of their own.
/// </summary>
public static class PacketConfig
{
    /// <summary>The defaults of the transport layer (<c>Packet.Io</c>'s embedded reference.conf).</summary>
    public static Config Transport { get; } = FromResource(typeof(PacketConfig).Assembly, "Packet.Io.reference.conf");

    /// <summary>
    /// Reads an embedded HOCON resource. Used by each PacketAkka assembly to expose its own defaults.
    /// </summary>
    /// <param name="assembly">The assembly that embeds the resource.</param>
    /// <param name="name">The resource's logical name.</param>
    /// <exception cref="InvalidOperationException">The resource is missing: the build is broken.</exception>
    public static Config FromResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded configuration '{name}' is missing from {assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    /// <summary>Parses a HOCON file, such as one of the examples in <c>hocon/</c>.</summary>
    /// <param name="path">Path of the file.</param>
    public static Config FromFile(string path) => ConfigurationFactory.ParseString(File.ReadAllText(path));
}
