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
/// actionable. Akka.Remote's other warnings, errors and debug lines are kept. Nothing else is filtered.
/// </summary>
internal sealed class LinkLogFilter : LogFilterBase
{
    private readonly LogThrottle _throttle = new();

    /// <summary>The decision taken for each event: Akka may ask about one event more than once, and must get the same answer.</summary>
    private readonly ConditionalWeakTable<LogEvent, object> _decided = new();

    /// <summary>
    /// Content, though it decides by source alone: with only source filters, Akka 1.5.73's standard-out
    /// logger prints each kept event's bare message, without its level, time and source.
    /// </summary>
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent content, string? expandedMessage = null)
    {
        if (content.LogLevel() == LogLevel.InfoLevel && IsRemoting(content)) return LogFilterDecision.Drop;
        if (!IsLinkSocket(content.LogSource)) return LogFilterDecision.NoDecision;
        if (content.LogLevel() == LogLevel.WarningLevel && $"{content.Message}".StartsWith("Unable to REMOVE channel", StringComparison.Ordinal))
            return LogFilterDecision.Drop;
        lock (_throttle)
            return (LogFilterDecision)_decided.GetValue(content, _ => _throttle.Due(out var _) ? LogFilterDecision.Keep : LogFilterDecision.Drop);
    }

    /// <summary>Akka.Remote's own classes, and its loggers named by string ("remoting (akka://name)", "remoting-terminator").</summary>
    private static bool IsRemoting(LogEvent content) =>
        content.LogClass?.Namespace?.StartsWith("Akka.Remote", StringComparison.Ordinal) == true
        || content.LogSource?.StartsWith("remoting", StringComparison.Ordinal) == true;

    /// <summary>Akka.Remote's inbound and outbound socket handlers ("TcpServerHandler (akka://name)").</summary>
    private static bool IsLinkSocket(string? source) =>
        source is not null && (source.StartsWith("TcpServerHandler", StringComparison.Ordinal) || source.StartsWith("TcpClientHandler", StringComparison.Ordinal));
}
