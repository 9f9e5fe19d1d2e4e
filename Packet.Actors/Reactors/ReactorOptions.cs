using System.Globalization;
using System.Text;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace Packet.Actors;

/// <summary>The transports a reactor's servers and connections can run on (<c>packet.tcp.transport</c>).</summary>
public enum ReactorTransport
{
    /// <summary>Akka.IO's TCP actors (<c>akka-io</c>), the default.</summary>
    AkkaIo,

    /// <summary>.NET's <see cref="System.Net.Sockets.Socket"/> read into pooled blocks (<c>sockets</c>): the fastest.</summary>
    Sockets,
}

/// <summary>
/// The settings an application most often chooses, in code: <see cref="ToConfig"/> turns them into the configuration
/// <see cref="Reactor.Start(Config?)"/>, <see cref="Reactor.Run"/>, <see cref="Reactor.RunAsync"/> and
/// <see cref="Hosting.PacketOptions.Config"/> take, so a <c>--transport</c> switch needs no HOCON written by hand.
/// A property left <see langword="null"/> keeps its default (or what <see cref="Config"/> says); every value is
/// checked when the reactor starts, with an error naming its setting.
/// </summary>
/// <example><c>Reactor.Run(setup, new ReactorOptions { Transport = ReactorTransport.Sockets, LogLevel = LogLevel.Warning }.ToConfig());</c></example>
public sealed class ReactorOptions
{
    /// <summary><c>packet.tcp.transport</c>: what servers and connections run on; <see cref="ReactorTransport.AkkaIo"/> unless set.</summary>
    public ReactorTransport? Transport { get; init; }

    /// <summary>
    /// <c>akka.loglevel</c>: the least severe log events written (PacketAkka's and Akka's); <see cref="LogLevel.Information"/>
    /// unless set, at which PacketAkka logs what starts and stops (reactor, servers, workers) and nothing per connection.
    /// <see cref="LogLevel.Trace"/> is <see cref="LogLevel.Debug"/>; <see cref="LogLevel.Critical"/> is <see cref="LogLevel.Error"/>.
    /// </summary>
    public LogLevel? LogLevel { get; init; }

    /// <summary><c>packet.reactor.name</c>: the name of the reactor's actor system, in its log lines.</summary>
    public string? Name { get; init; }

    /// <summary><c>packet.tcp.max-connections</c>: how many connections the reactor holds at once (10,000 unless set).</summary>
    public int? MaxConnections { get; init; }

    /// <summary>
    /// <c>packet.tcp.inactivity-timeout</c>: how long a connection may go without a byte read or written (5 minutes
    /// unless set); <see cref="Timeout.InfiniteTimeSpan"/> turns it off.
    /// </summary>
    public TimeSpan? InactivityTimeout { get; init; }

    /// <summary><c>packet.workers.root</c>: Packet's WORKER_ROOT, a folder of worker assemblies started with the reactor.</summary>
    public string? WorkersRoot { get; init; }

    /// <summary>
    /// <c>packet.workers.enabled</c>: whether the reactor runs workers. Unless set, it does when a root or worker types are
    /// configured; set it for workers started only in code (<see cref="Reactor.StartWorkerAsync{T}"/>).
    /// </summary>
    public bool? WorkersEnabled { get; init; }

    /// <summary>Any other settings, under the properties above: what a HOCON file (<c>hocon/</c>) would hold.</summary>
    public Config? Config { get; init; }

    /// <summary>The configuration these options make: the properties that are set, over <see cref="Config"/>.</summary>
    public Config ToConfig()
    {
        var text = new StringBuilder();
        if (Transport is { } transport) Set(text, "packet.tcp.transport", transport == ReactorTransport.Sockets ? "sockets" : "akka-io");
        if (LogLevel is { } level) Set(text, "akka.loglevel", AkkaLevel(level));
        if (Name is { } name) Set(text, "packet.reactor.name", name);
        if (MaxConnections is { } max) text.Append(CultureInfo.InvariantCulture, $"packet.tcp.max-connections = {max}\n");
        if (InactivityTimeout is { } timeout)
            Set(text, "packet.tcp.inactivity-timeout", timeout == Timeout.InfiniteTimeSpan ? "off" : $"{(long)Math.Ceiling(timeout.TotalMilliseconds)}ms");
        if (WorkersRoot is { } root) Set(text, "packet.workers.root", root);
        if (WorkersEnabled is { } enabled) Set(text, "packet.workers.enabled", enabled ? "on" : "off");
        var config = text.Length == 0 ? Akka.Configuration.Config.Empty : ConfigurationFactory.ParseString(text.ToString());
        return Config is null ? config : config.WithFallback(Config);
    }

    /// <summary>One setting as a HOCON line, its value quoted so that no character of it is read as HOCON.</summary>
    private static void Set(StringBuilder text, string path, string value) => text.Append(path).Append(" = ").Append(Hosting.ConfigurationHocon.Quote(value)).Append('\n');

    private static string AkkaLevel(LogLevel level) => level switch
    {
        Microsoft.Extensions.Logging.LogLevel.Trace or Microsoft.Extensions.Logging.LogLevel.Debug => "DEBUG",
        Microsoft.Extensions.Logging.LogLevel.Information => "INFO",
        Microsoft.Extensions.Logging.LogLevel.Warning => "WARNING",
        Microsoft.Extensions.Logging.LogLevel.Error or Microsoft.Extensions.Logging.LogLevel.Critical => "ERROR",
        Microsoft.Extensions.Logging.LogLevel.None => "OFF",
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, "not a log level"),
    };
}
