using System.Text.Json;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// What the master tells a WorkerHost it starts, as one JSON line on the host's standard input: never
/// on the command line, where other users could read it. The host keeps reading its standard input
/// afterwards; end of input means the master is gone (even after <c>kill -9</c>), and it exits.
/// <c>Secret</c> proves this one launch: the master accepts one registration with it, for this instance
/// and no other. <c>Link</c> holds the run's <see cref="LinkCredentials"/>, without which the host
/// cannot reach the master at all.
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
    string LogLevel,
    string Link)
{
    public string ToLine() => JsonSerializer.Serialize(this);

    public static HostStart FromLine(string line) =>
        JsonSerializer.Deserialize<HostStart>(line) ?? throw new InvalidDataException("the master sent an empty start line");

    /// <summary>
    /// How the host's answer on its standard output begins: this prefix, then the host's link address
    /// (<c>akka.ssl.tcp://worker@127.0.0.1:PORT</c>). The master takes the first such line, written before any
    /// code of the worker's runs, and sends to that address only.
    /// </summary>
    public const string LinkLine = "PACKET-LINK ";

    /// <summary>Shows neither the secret nor the credentials.</summary>
    public override string ToString() => $"HostStart({Name}, instance {Instance}, {Master})";
}
