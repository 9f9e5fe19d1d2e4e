using Akka.Configuration;

namespace Packet.Io.Configuration;

/// <summary>
/// Typed, fail-fast reads of PacketAkka settings. A missing or malformed key gives an exception that
/// names the key, instead of a silent zero.
/// </summary>
internal static class ConfigReader
{
    public static int Int(Config config, string path) => Read(config, path, () => config.GetInt(path));

    public static string Text(Config config, string path) => Read(config, path, () => config.GetString(path));

    /// <summary>A list of strings; a single string where a list belongs is an error, not a one-element list.</summary>
    public static IReadOnlyList<string> List(Config config, string path)
    {
        var value = Read(config, path, () => config.GetValue(path));
        if (value.IsString()) throw Bad(path, "must be a list, such as [\"a\", \"b\"]");
        return Read(config, path, () => config.GetStringList(path)).ToArray();
    }

    public static bool Bool(Config config, string path) => Read(config, path, () => config.GetBoolean(path));

    public static TimeSpan Duration(Config config, string path)
    {
        var value = Read(config, path, () => config.GetTimeSpan(path, null, allowInfinite: false));
        return value > TimeSpan.Zero ? value : throw Bad(path, "must be a positive duration");
    }

    /// <summary>A duration that may be <c>off</c>, which reads as <see langword="null"/>.</summary>
    public static TimeSpan? OptionalDuration(Config config, string path)
    {
        var raw = Read(config, path, () => config.GetString(path));
        return raw is "off" or "none" ? null : Duration(config, path);
    }

    public static int Bytes(Config config, string path)
    {
        var value = Read(config, path, () => config.GetByteSize(path) ?? throw Bad(path, "is not a byte size"));
        return value is > 0 and <= int.MaxValue ? (int)value : throw Bad(path, $"must be between 1 byte and {int.MaxValue} bytes, not {value}");
    }

    private static T Read<T>(Config config, string path, Func<T> read)
    {
        if (!config.HasPath(path))
            throw new ConfigurationException($"PacketAkka setting '{path}' is missing; reference.conf defines every key, so the Config was built without PacketConfig's fallbacks");
        try
        {
            return read();
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, $"cannot be read: {e.Message}");
        }
    }

    private static ConfigurationException Bad(string path, string problem) =>
        new($"PacketAkka setting '{path}' {problem}");
}
