using Akka.Configuration;

namespace Packet.Io.Configuration;

/// <summary>The transport settings of one reactor, read once from <c>packet.tcp</c> and <c>packet.framing</c>.</summary>
internal sealed record TransportSettings(
    string Transport,
    int SocketsReadSize,
    int Backlog,
    int MaxConnections,
    TimeSpan RefusalLogInterval,
    bool NoDelay,
    bool KeepAlive,
    TimeSpan ConnectTimeout,
    TimeSpan? InactivityTimeout,
    TimeSpan CloseTimeout,
    TimeSpan TlsHandshakeTimeout,
    int HighWaterMark,
    int LowWaterMark,
    int MaxOutbound,
    int MaxLineLength,
    int MaxBinaryLength,
    int MaxFrameLength,
    int MinDataRate,
    TimeSpan MinDataRateGrace)
{
    /// <summary>Reads every key; throws <see cref="ConfigurationException"/> naming the first bad one.</summary>
    public static TransportSettings From(Config config)
    {
        var settings = new TransportSettings(
            Transport: ConfigReader.Text(config, "packet.tcp.transport"),
            SocketsReadSize: ConfigReader.Bytes(config, "packet.tcp.sockets.read-size"),
            Backlog: ConfigReader.Int(config, "packet.tcp.backlog"),
            MaxConnections: ConfigReader.Int(config, "packet.tcp.max-connections"),
            RefusalLogInterval: ConfigReader.Duration(config, "packet.tcp.refusal-log-interval"),
            NoDelay: ConfigReader.Bool(config, "packet.tcp.no-delay"),
            KeepAlive: ConfigReader.Bool(config, "packet.tcp.keep-alive"),
            ConnectTimeout: ConfigReader.Duration(config, "packet.tcp.connect-timeout"),
            InactivityTimeout: ConfigReader.OptionalDuration(config, "packet.tcp.inactivity-timeout"),
            CloseTimeout: ConfigReader.Duration(config, "packet.tcp.close-timeout"),
            TlsHandshakeTimeout: ConfigReader.Duration(config, "packet.tcp.tls-handshake-timeout"),
            HighWaterMark: ConfigReader.Bytes(config, "packet.tcp.backpressure.high-water-mark"),
            LowWaterMark: ConfigReader.Bytes(config, "packet.tcp.backpressure.low-water-mark"),
            MaxOutbound: ConfigReader.Bytes(config, "packet.tcp.backpressure.max-outbound"),
            MaxLineLength: ConfigReader.Bytes(config, "packet.framing.max-line-length"),
            MaxBinaryLength: ConfigReader.Bytes(config, "packet.framing.max-binary-length"),
            MaxFrameLength: ConfigReader.Bytes(config, "packet.framing.max-frame-length"),
            MinDataRate: ConfigReader.Int(config, "packet.framing.min-data-rate"),
            MinDataRateGrace: ConfigReader.Duration(config, "packet.framing.min-data-rate-grace"));

        if (settings.Transport == "kestrel")
            throw new ConfigurationException("PacketAkka setting 'packet.tcp.transport': the kestrel transport was retired; use \"sockets\", which serves handlers the same way with less memory per connection (README, \"Transports\")");
        if (settings.Transport is not ("akka-io" or "sockets"))
            throw new ConfigurationException($"PacketAkka setting 'packet.tcp.transport' must be \"akka-io\" or \"sockets\", not \"{settings.Transport}\"");
        if (settings.SocketsReadSize is < 4096 or > 1024 * 1024)
            throw new ConfigurationException("PacketAkka setting 'packet.tcp.sockets.read-size' must be between 4 KiB and 1 MiB");
        if (settings.MinDataRate < 0)
            throw new ConfigurationException("PacketAkka setting 'packet.framing.min-data-rate' must not be negative (0 turns it off)");
        if (settings.Backlog < 1)
            throw new ConfigurationException("PacketAkka setting 'packet.tcp.backlog' must be at least 1");
        if (settings.MaxConnections < 1)
            throw new ConfigurationException("PacketAkka setting 'packet.tcp.max-connections' must be at least 1");
        if (settings.LowWaterMark > settings.HighWaterMark || settings.HighWaterMark > settings.MaxOutbound)
            throw new ConfigurationException(
                "PacketAkka settings 'packet.tcp.backpressure' must satisfy low-water-mark <= high-water-mark <= max-outbound");
        return settings;
    }
}
