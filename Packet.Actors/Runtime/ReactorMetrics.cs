using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Packet.Actors.Runtime;

/// <summary>
/// One reactor's instruments, on a <see cref="Meter"/> of its own named <see cref="MeterName"/> (listen to it
/// with OpenTelemetry's <c>AddMeter("PacketAkka")</c> or <c>dotnet-counters monitor --counters PacketAkka</c>).
/// Names follow Kestrel's (<c>kestrel.active_connections</c>, <c>kestrel.connection.duration</c>).
/// Counts that the reactor keeps anyway (connections, asks in flight, dropped replies) are observed
/// when a listener collects, at no cost per message; the rest are recorded where they happen, only
/// while something listens.
/// </summary>
internal sealed class ReactorMetrics : IDisposable
{
    /// <summary>The name of every reactor's meter.</summary>
    public const string MeterName = "PacketAkka";

    private readonly Meter _meter = new(MeterName);
    private readonly KeyValuePair<string, object?> _transport;
    private readonly Histogram<double> _connectionDuration;
    private readonly Counter<long> _rejectedConnections;
    private readonly Counter<long> _receivedBytes;
    private readonly Counter<long> _sentBytes;
    private readonly Histogram<double> _askDuration;
    private readonly Counter<long> _workerRestarts;

    public ReactorMetrics(ReactorRuntime runtime)
    {
        _transport = new("packet.transport", runtime.Settings.Transport);
        var transport = _transport;
        _meter.CreateObservableUpDownCounter("packet.active_connections", () => new Measurement<long>(runtime.ConnectionCount, transport),
            "{connection}", "Connections the reactor holds, accepted and dialled.");
        _connectionDuration = _meter.CreateHistogram<double>("packet.connection.duration", "s",
            "How long connections lasted, by how they ended (packet.unbind_reason).");
        _rejectedConnections = _meter.CreateCounter<long>("packet.rejected_connections", "{connection}",
            "Connections reset at once because the reactor held max-connections.");
        _receivedBytes = _meter.CreateCounter<long>("packet.connection.received_bytes", "By", "Bytes read from connections.");
        _sentBytes = _meter.CreateCounter<long>("packet.connection.sent_bytes", "By", "Bytes handlers sent (handed to the transport).");
        _meter.CreateObservableUpDownCounter("packet.worker.asks_in_flight", () => runtime.PendingAsks, "{ask}",
            "Worker asks made and not yet answered.");
        _askDuration = _meter.CreateHistogram<double>("packet.worker.ask.duration", "s",
            "From AskWorker to the answer, by worker (packet.worker) and outcome (packet.ask.outcome: ok, error, timeout, unavailable).");
        _workerRestarts = _meter.CreateCounter<long>("packet.worker.restarts", "{restart}", "WorkerHost processes started again after one ended.");
        _meter.CreateObservableCounter("packet.worker.dropped_replies", () => runtime.Workers?.DroppedReplies ?? 0, "{reply}",
            "Worker replies dropped because the connection that asked had closed.");
    }

    /// <summary>The meter, for tests that collect from this reactor alone.</summary>
    public Meter Meter => _meter;

    public void ConnectionEnded(long startedAt, UnbindKind reason)
    {
        if (_connectionDuration.Enabled)
            _connectionDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, _transport, new("packet.unbind_reason", UnbindReasonName(reason)));
    }

    public void ConnectionRejected() => _rejectedConnections.Add(1, _transport);

    public void Received(long bytes)
    {
        if (_receivedBytes.Enabled) _receivedBytes.Add(bytes, _transport);
    }

    public void Sent(int bytes)
    {
        if (_sentBytes.Enabled) _sentBytes.Add(bytes, _transport);
    }

    public void AskEnded(string worker, long startedAt, string outcome)
    {
        if (_askDuration.Enabled)
            _askDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, new("packet.worker", worker), new("packet.ask.outcome", outcome));
    }

    public void WorkerRestarted(string worker) => _workerRestarts.Add(1, new KeyValuePair<string, object?>("packet.worker", worker));

    public void Dispose() => _meter.Dispose();

    private static string UnbindReasonName(UnbindKind reason) => (int)reason < ReasonNames.Length ? ReasonNames[(int)reason] : reason.ToString();

    /// <summary>Each <see cref="UnbindKind"/> in snake case (peer_closed, outbound_overflow), by value, made once.</summary>
    private static readonly string[] ReasonNames = Enum.GetValues<UnbindKind>()
        .OrderBy(kind => (int)kind)
        .Select(kind => string.Concat(kind.ToString().Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString())))
        .ToArray();
}
