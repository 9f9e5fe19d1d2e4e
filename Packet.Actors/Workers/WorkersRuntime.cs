using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Akka.Event;
using Microsoft.Extensions.Logging;
using Packet.Actors.Runtime;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// The master-side worker state one reactor shares between its actors and its public API: settings,
/// the run's link credentials, the payload serializer, the status store and the dropped-reply count.
/// </summary>
internal sealed class WorkersRuntime(Reactor reactor, WorkerSettings settings, IReadOnlyDictionary<string, WorkerType> catalog, PayloadSerializer payloads, string masterPath, string logLevel, LinkCredentials link, bool uniqueByCluster)
{
    private readonly ConcurrentDictionary<string, object?> _results = new();
    private long _droppedReplies;

    public Reactor Reactor { get; } = reactor;

    public WorkerSettings Settings { get; } = settings;

    public IReadOnlyDictionary<string, WorkerType> Catalog { get; } = catalog;

    /// <summary>
    /// Whether this reactor is a cluster's node (a master with <c>packet.cluster</c> on, or a host agent's), whose
    /// <see cref="WorkerAttribute.ClusterUnique"/> workers the cluster starts, on one agent, rather than the reactor.
    /// </summary>
    public bool UniqueByCluster { get; } = uniqueByCluster;

    /// <summary>Whether the reactor starts <paramref name="type"/> by itself, as it starts: not if it is <c>NoAutoLoad</c>, or cluster-unique in a cluster.</summary>
    public bool StartsByItself(WorkerType type) => !type.NoAutoLoad && !(type.ClusterUnique && UniqueByCluster);

    public PayloadSerializer Payloads { get; } = payloads;

    public IReadOnlyDictionary<string, object?> Results => _results;

    public long DroppedReplies => Interlocked.Read(ref _droppedReplies);

    public long DroppedAsks => Interlocked.Read(ref _droppedAsks);

    private long _droppedAsks;

    /// <summary>What a WorkerHost for one launch of an instance is told; <paramref name="secret"/> is that launch's own.</summary>
    public HostStart HostStart(long instance, string secret, WorkerType type, string? key, IReadOnlyDictionary<string, string> options) =>
        new(masterPath, secret, instance, type.Name, key, type.AssemblyPath, type.TypeName, options, Settings.AllowedTypes, Settings.MaxPayload, logLevel, _link);

    private readonly string _link = link.ToBase64();

    /// <summary>A new launch secret: 256 random bits, as hex.</summary>
    public static string NewSecret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    /// <summary>Compares in constant time, so a secret cannot be guessed byte by byte from response times.</summary>
    public static bool SameSecret(string candidate, string secret) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), Encoding.UTF8.GetBytes(secret));

    /// <summary>The deadline of an ask made at <paramref name="started"/>: <c>ask-timeout</c> later, in <see cref="System.Diagnostics.Stopwatch"/> time, never restarted.</summary>
    public long DeadlineOf(long started) => started + (long)(Settings.AskTimeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    /// <summary>How many asks one instance of <paramref name="type"/> holds at once.</summary>
    public int MaxInFlight(WorkerType type) => type.MaxInFlight > 0 ? type.MaxInFlight : Settings.MaxInFlight;

    /// <summary>
    /// Where a WorkerHost's output lines go, given with the host's process id: the master's log at the
    /// line's own level (<see cref="HostLineLevel"/>), with the worker's name; or, with <c>packet.workers.log-folder</c>,
    /// a file per worker (<c>name.log</c> or <c>name_key.log</c>). With a logger factory
    /// (<see cref="Reactor.Start(Akka.Configuration.Config?, ILoggerFactory)"/>) a line goes straight to the
    /// category <see cref="HostCategory"/>, in a scope with the fields <c>Worker</c> and <c>HostPid</c>: it
    /// comes from the process's output reader, not from an actor.
    /// </summary>
    public Action<int, string, bool> LogSink(string name, string? key, ILoggingAdapter log)
    {
        var label = ResultKey(name, key);
        if (Settings.LogFolder is { } folder)
        {
            var writer = _logFiles.GetOrAdd(label, l => TextWriter.Synchronized(new StreamWriter(
                new FileStream(Path.Combine(folder, $"{l}.log"), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true }));
            return (_, line, _) => writer.WriteLine(line);
        }
        if (Reactor.System.Settings.Setup.Get<LoggerFactoryLogger.Setup>().Value is { } logging)
        {
            var logger = logging.Factory.CreateLogger(HostCategory);
            return (pid, line, error) =>
            {
                using var scope = logger.BeginScope(new KeyValuePair<string, object?>[] { new("Worker", label), new("HostPid", pid) });
                logger.Log(LoggerFactoryLogger.Level(HostLineLevel(line, error)), "[{Worker}] {HostLine}", label, line);
            };
        }
        return (pid, line, error) => log.Log(HostLineLevel(line, error), null, "[{Worker}] {HostLine}", label, line);
    }

    /// <summary>The logger category of WorkerHosts' output lines, when the reactor logs to a logger factory.</summary>
    public const string HostCategory = "Packet.WorkerHost";

    /// <summary>
    /// The level a WorkerHost's output line is logged at in the master: its own, when it is a line of the
    /// host's Akka log (<c>[DEBUG]</c>, <c>[INFO]</c>, <c>[WARNING]</c>, <c>[ERROR]</c> first); otherwise a warning
    /// for standard error, so a crashing host says why even at the default log level, and info for standard output.
    /// </summary>
    internal static Akka.Event.LogLevel HostLineLevel(string line, bool error) => line switch
    {
        _ when line.StartsWith("[ERROR]", StringComparison.Ordinal) => Akka.Event.LogLevel.ErrorLevel,
        _ when line.StartsWith("[WARNING]", StringComparison.Ordinal) => Akka.Event.LogLevel.WarningLevel,
        _ when line.StartsWith("[INFO]", StringComparison.Ordinal) => Akka.Event.LogLevel.InfoLevel,
        _ when line.StartsWith("[DEBUG]", StringComparison.Ordinal) => Akka.Event.LogLevel.DebugLevel,
        _ => error ? Akka.Event.LogLevel.WarningLevel : Akka.Event.LogLevel.InfoLevel,
    };

    /// <summary>Closes the per-worker log files; called when the reactor stops.</summary>
    public void CloseLogs()
    {
        foreach (var writer in _logFiles.Values) writer.Dispose();
        _logFiles.Clear();
    }

    private readonly ConcurrentDictionary<string, TextWriter> _logFiles = new();

    private int _inProcessHosts;

    /// <summary>Starts one instance where <c>packet.workers.in-process</c> says: its own WorkerHost process, or an actor here.</summary>
    public IWorkerHost StartHost(long instance, string secret, WorkerType type, string? key, IReadOnlyDictionary<string, string> options, ILoggingAdapter log,
        Action<int, Akka.Actor.Address> onLink, Action<int, int> onExit)
    {
        var start = HostStart(instance, secret, type, key, options);
        return Settings.InProcess
            ? InProcessWorkerHost.Start(-Interlocked.Increment(ref _inProcessHosts), Reactor.System, Reactor, type, start, Payloads, onLink, onExit)
            : WorkerHostProcess.Start(Settings.Host, Settings.User, start, onLink, LogSink(type.Name, key, log), onExit);
    }

    public void CountDroppedReplies(int count) => Interlocked.Add(ref _droppedReplies, count);

    public void CountDroppedAsks(int count) => Interlocked.Add(ref _droppedAsks, count);

    /// <summary>Packet's <c>:status</c> store: the latest value recorded for each worker, by Packet's worker key.</summary>
    public void RecordResult(string name, string? key, object? value) => _results[ResultKey(name, key)] = value;

    /// <summary>backgroundrb's <c>gen_worker_key</c>: the name, or <c>name_key</c> for a keyed instance.</summary>
    public static string ResultKey(string name, string? key) => key is null ? name : $"{name}_{key}";
}
