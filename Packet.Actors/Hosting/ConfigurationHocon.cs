using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Microsoft.Extensions.Configuration;

namespace Packet.Actors.Hosting;

/// <summary>
/// Reads an <see cref="IConfiguration"/> tree as HOCON: <c>Config:packet:tcp:transport = sockets</c> (from
/// <c>appsettings.json</c>, an environment variable <c>Packet__Config__packet__tcp__transport</c>, a command line)
/// is <c>packet.tcp.transport = "sockets"</c>. A section whose keys are 0, 1, 2... is a list.
/// </summary>
internal static class ConfigurationHocon
{
    /// <summary>The HOCON of <paramref name="section"/>'s children, or an empty config when it has none.</summary>
    public static Config From(IConfiguration section)
    {
        var text = new StringBuilder();
        foreach (var child in section.GetChildren()) Write(child, text);
        return text.Length == 0 ? Config.Empty : ConfigurationFactory.ParseString(text.ToString());
    }

    private static void Write(IConfigurationSection section, StringBuilder text)
    {
        text.Append(Quote(section.Key)).Append(" = ");
        Value(section, text);
        text.Append('\n');
    }

    private static void Value(IConfigurationSection section, StringBuilder text)
    {
        var children = section.GetChildren().ToArray();
        if (children.Length == 0)
        {
            text.Append(Quote(section.Value ?? ""));
            return;
        }
        if (IsList(children))
        {
            text.Append('[');
            foreach (var (item, i) in children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)).Select((c, i) => (c, i)))
            {
                if (i > 0) text.Append(", ");
                Value(item, text);
            }
            text.Append(']');
            return;
        }
        text.Append("{\n");
        foreach (var child in children) Write(child, text);
        text.Append('}');
    }

    /// <summary>Keys 0 to n-1, as a list comes from JSON, environment variables or the command line.</summary>
    private static bool IsList(IConfigurationSection[] children) =>
        children.Select(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1)
            .Order().SequenceEqual(Enumerable.Range(0, children.Length));

    /// <summary>A HOCON quoted string, which is a JSON string.</summary>
    internal static string Quote(string value) => JsonSerializer.Serialize(value);
}
