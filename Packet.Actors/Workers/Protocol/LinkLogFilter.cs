using System.Runtime.CompilerServices;
using Akka.Event;

namespace Packet.Actors.Workers.Protocol;

/// <summary>
/// Keeps strangers from flooding the log through the worker link: every connection that fails its TLS
/// handshake (a plaintext peer, a wrong certificate, random bytes) makes Akka.Remote's socket handlers
/// log an error of many lines. Of these, the first is logged, then at most one per
/// <see cref="LogThrottle.Interval"/>; the rest are dropped. (The link's own certificate check throttles
/// its warning itself: <see cref="LinkCredentials"/>.) And the link's info lines ("Starting remoting",
/// "Remoting started; listening on addresses", "Removing receive buffers"), which say nothing a user of
/// PacketAkka acts on, three or more per WorkerHost start and stop, are dropped, and so is the warning
/// "Unable to REMOVE channel ... May not shut down cleanly" that a link's socket handler gives when its
/// actor system ends while the link closes (a WorkerHost at nearly every stop): harmless, and not
/// actionable. A peer that died makes Akka.Remote warn of its failed association (with a stack trace),
/// then again at every retry, every 5 s until it is forgotten: of the warnings and errors of Akka.Remote's
/// endpoints and of remoting itself, the first is logged, then at most one per <see cref="LogThrottle.Interval"/>.
/// Its debug lines are kept. Nothing else is filtered.
/// </summary>
internal sealed class LinkLogFilter : LogFilterBase
{
    private readonly LogThrottle _throttle = new();
    private readonly LogThrottle _associations = new();

    /// <summary>The decision taken for each event: Akka may ask about one event more than once, and must get the same answer.</summary>
    private readonly ConditionalWeakTable<LogEvent, object> _decided = new();

    /// <summary>
    /// Content, though it decides by source alone: with only source filters, Akka 1.5.73's standard-out
    /// logger prints each kept event's bare message, without its level, time and source.
    /// </summary>
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent content, string? expandedMessage = null)
    {
        var level = content.LogLevel();
        if (level == LogLevel.InfoLevel && IsRemoting(content)) return LogFilterDecision.Drop;
        if (level < LogLevel.WarningLevel) return LogFilterDecision.NoDecision;
        if (IsLinkSocket(content.LogSource))
        {
            if (level == LogLevel.WarningLevel && $"{content.Message}".StartsWith("Unable to REMOVE channel", StringComparison.Ordinal))
                return LogFilterDecision.Drop;
            return Throttled(_throttle, content);
        }
        return IsAssociation(content.LogSource) ? Throttled(_associations, content) : LogFilterDecision.NoDecision;
    }

    private LogFilterDecision Throttled(LogThrottle throttle, LogEvent content)
    {
        lock (_decided)
            return (LogFilterDecision)_decided.GetValue(content, _ => throttle.Due(out var _) ? LogFilterDecision.Keep : LogFilterDecision.Drop);
    }

    /// <summary>Akka.Remote's own classes, and its loggers named by string ("remoting (akka://name)", "remoting-terminator").</summary>
    private static bool IsRemoting(LogEvent content) =>
        content.LogClass?.Namespace?.StartsWith("Akka.Remote", StringComparison.Ordinal) == true
        || content.LogSource?.StartsWith("remoting", StringComparison.Ordinal) == true;

    /// <summary>Akka.Remote's endpoint actors (<c>.../system/endpointManager/reliableEndpointWriter-.../endpointWriter</c>) and remoting itself.</summary>
    private static bool IsAssociation(string? source) =>
        source is not null && (source.Contains("/system/endpointManager/", StringComparison.Ordinal) || source.StartsWith("remoting (", StringComparison.Ordinal));

    /// <summary>Akka.Remote's inbound and outbound socket handlers ("TcpServerHandler (akka://name)").</summary>
    private static bool IsLinkSocket(string? source) =>
        source is not null && (source.StartsWith("TcpServerHandler", StringComparison.Ordinal) || source.StartsWith("TcpClientHandler", StringComparison.Ordinal));
}
