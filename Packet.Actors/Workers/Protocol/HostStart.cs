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
    string LogLevel,
    HostTls? Tls)
{
    public string ToLine() => JsonSerializer.Serialize(this);

    public static HostStart FromLine(string line) =>
        JsonSerializer.Deserialize<HostStart>(line) ?? throw new InvalidDataException("the master sent an empty start line");
}

/// <summary>
/// The master's Akka.Remote TLS settings, which its WorkerHosts must use too. Sent on stdin with the
/// rest of <see cref="HostStart"/>, so the certificate password never shows on a command line.
/// </summary>
internal sealed record HostTls(string CertificatePath, string CertificatePassword, bool SuppressValidation, bool RequireMutualAuthentication)
{
    private const string Ssl = "akka.remote.dot-netty.tcp";

    /// <summary>The TLS settings of <paramref name="config"/>, or <see langword="null"/> when TLS is off.</summary>
    public static HostTls? From(Akka.Configuration.Config config) =>
        config.GetBoolean($"{Ssl}.enable-ssl", false)
            ? new HostTls(
                Path.GetFullPath(config.GetString($"{Ssl}.ssl.certificate.path")),
                config.GetString($"{Ssl}.ssl.certificate.password"),
                config.GetBoolean($"{Ssl}.ssl.suppress-validation", false),
                config.GetBoolean($"{Ssl}.ssl.require-mutual-authentication", true))
            : null;

    /// <summary>The same settings as HOCON, for the WorkerHost's actor system; strings quoted as JSON, which HOCON reads.</summary>
    public string ToHocon() => $$"""
        {{Ssl}} {
          enable-ssl = on
          ssl {
            suppress-validation = {{(SuppressValidation ? "on" : "off")}}
            require-mutual-authentication = {{(RequireMutualAuthentication ? "on" : "off")}}
            certificate {
              path = {{JsonSerializer.Serialize(CertificatePath)}}
              password = {{JsonSerializer.Serialize(CertificatePassword)}}
            }
          }
        }
        """;
}
