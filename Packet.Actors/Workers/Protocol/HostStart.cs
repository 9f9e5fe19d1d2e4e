using System.Text.Json;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// What the master tells a WorkerHost it starts, as one JSON line on the host's standard input: never
/// on the command line, where other users could read the secret. The host keeps reading its standard
/// input afterwards; end of input means the master is gone (even after <c>kill -9</c>), and it exits.
/// </summary>
internal sealed record HostStart(
    string Master,
    string Secret,
    long Instance,
    string Name,
    string? Key,
    string AssemblyPath,
    string TypeName,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyList<string> AllowedTypes,
    int MaxPayload,
    string LogLevel)
{
    public string ToLine() => JsonSerializer.Serialize(this);

    public static HostStart FromLine(string line) =>
        JsonSerializer.Deserialize<HostStart>(line) ?? throw new InvalidDataException("the master sent an empty start line");
}
