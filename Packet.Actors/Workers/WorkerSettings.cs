using Akka.Configuration;
using Packet.Io.Configuration;

namespace Packet.Actors.Workers;

/// <summary>The worker settings of one reactor, read once from <c>packet.workers</c>.</summary>
internal sealed record WorkerSettings(
    string? Root,
    IReadOnlyList<string> Types,
    bool Enabled,
    string Host,
    TimeSpan AskTimeout,
    bool RestartOnAskTimeout,
    TimeSpan StartTimeout,
    bool Restart,
    TimeSpan MinBackoff,
    TimeSpan MaxBackoff,
    int MaxPayload,
    int MaxInFlight,
    int MaxAsksPerConnection,
    int MaxWaiting,
    long MaxWaitingBytes,
    IReadOnlyList<string> AllowedTypes,
    string? LogFolder,
    bool InProcess,
    WorkerUser? User)
{
    public const string RemoteConfigPath = "packet.workers.remote-config";

    /// <summary>Reads every key; throws <see cref="ConfigurationException"/> naming the first bad one.</summary>
    public static WorkerSettings From(Config config)
    {
        var root = ConfigReader.Text(config, "packet.workers.root");
        if (root.Length > 0 && !Directory.Exists(root))
            throw new ConfigurationException($"PacketAkka setting 'packet.workers.root' names \"{root}\", which is not a folder");
        var types = ConfigReader.List(config, "packet.workers.types");
        var enabled = ConfigReader.Text(config, "packet.workers.enabled") switch
        {
            "auto" => root.Length > 0 || types.Count > 0,
            "on" => true,
            "off" => false,
            var other => throw new ConfigurationException($"PacketAkka setting 'packet.workers.enabled' must be auto, on or off, not \"{other}\""),
        };
        var logFolder = ConfigReader.Text(config, "packet.workers.log-folder");
        if (logFolder.Length > 0 && !Directory.Exists(logFolder))
            throw new ConfigurationException($"PacketAkka setting 'packet.workers.log-folder' names \"{logFolder}\", which is not a folder");
        var host = ConfigReader.Text(config, "packet.workers.host");
        if (host.Length == 0) host = Path.Combine(AppContext.BaseDirectory, "Packet.WorkerHost.dll");
        else if (!File.Exists(host))
            throw new ConfigurationException($"PacketAkka setting 'packet.workers.host' names \"{host}\", which is not a file");
        var onAskTimeout = ConfigReader.Text(config, "packet.workers.on-ask-timeout") switch
        {
            "restart" => true,
            "keep" => false,
            var other => throw new ConfigurationException($"PacketAkka setting 'packet.workers.on-ask-timeout' must be restart or keep, not \"{other}\""),
        };
        var restart = ConfigReader.Text(config, "packet.workers.restart.policy") switch
        {
            "backoff" => true,
            "never" => false,
            var other => throw new ConfigurationException($"PacketAkka setting 'packet.workers.restart.policy' must be backoff or never, not \"{other}\""),
        };
        var inProcess = ConfigReader.Bool(config, "packet.workers.in-process");
        var user = ConfigReader.Text(config, "packet.workers.user");
        if (user.Length > 0 && (user[0] == '-' || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
            throw new ConfigurationException($"PacketAkka setting 'packet.workers.user' must be a user name (letters, digits, '.', '_', '-', not starting with '-'), not \"{user}\"");
        if (user.Length > 0 && inProcess)
            throw new ConfigurationException("PacketAkka setting 'packet.workers.user' needs WorkerHost processes, and packet.workers.in-process is on");
        var settings = new WorkerSettings(
            Root: root.Length > 0 ? Path.GetFullPath(root) : null,
            Types: types,
            Enabled: enabled,
            Host: host,
            AskTimeout: ConfigReader.Duration(config, "packet.workers.ask-timeout"),
            RestartOnAskTimeout: onAskTimeout,
            StartTimeout: ConfigReader.Duration(config, "packet.workers.start-timeout"),
            Restart: restart,
            MinBackoff: ConfigReader.Duration(config, "packet.workers.restart.min-backoff"),
            MaxBackoff: ConfigReader.Duration(config, "packet.workers.restart.max-backoff"),
            MaxPayload: ConfigReader.Bytes(config, "packet.workers.max-payload"),
            MaxInFlight: ConfigReader.Int(config, "packet.workers.max-in-flight"),
            MaxAsksPerConnection: ConfigReader.Int(config, "packet.workers.max-asks-per-connection"),
            MaxWaiting: ConfigReader.Int(config, "packet.workers.max-waiting"),
            MaxWaitingBytes: ConfigReader.Bytes(config, "packet.workers.max-waiting-bytes"),
            AllowedTypes: ConfigReader.List(config, "packet.workers.allowed-types"),
            LogFolder: logFolder.Length > 0 ? Path.GetFullPath(logFolder) : null,
            InProcess: inProcess,
            User: user.Length > 0 && enabled ? WorkerUser.Of(user) : null);
        if (settings.MaxInFlight < 1)
            throw new ConfigurationException("PacketAkka setting 'packet.workers.max-in-flight' must be at least 1");
        if (settings.MaxAsksPerConnection < 1)
            throw new ConfigurationException("PacketAkka setting 'packet.workers.max-asks-per-connection' must be at least 1");
        if (settings.MaxWaiting < 0)
            throw new ConfigurationException("PacketAkka setting 'packet.workers.max-waiting' must not be negative");
        if (settings.Enabled && !settings.InProcess && WorkerHostProcess.Unsupported() is { } program)
            throw new ConfigurationException(
                $"PacketAkka workers are enabled, but cannot run in WorkerHost processes from {program}: publish framework-dependent and not as a single file, or set packet.workers.in-process = on (no isolation)");
        if (!config.HasPath(RemoteConfigPath))
            throw new ConfigurationException($"PacketAkka setting '{RemoteConfigPath}' is missing");
        return settings;
    }
}
