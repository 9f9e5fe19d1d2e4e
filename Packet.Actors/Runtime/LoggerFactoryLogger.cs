using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Packet.Actors.Runtime;

/// <summary>
/// The reactor's logger when it is given an <see cref="ILoggerFactory"/>: each of the actor system's log
/// events (at <c>akka.loglevel</c> or above) becomes one record of that factory's loggers, as a structured
/// record whose fields are the named placeholders of its template (<c>{Worker}</c>, <c>{ExitCode}</c>,
/// <c>{Peer}</c>...), plus <c>ActorPath</c>, where it was logged.
/// </summary>
/// <remarks>
/// The category is the class that logged (<c>Packet.Actors.Workers.ProxyActor</c>, <c>Akka.Remote.EndpointWriter</c>),
/// so a host's <c>Logging:LogLevel</c> settings filter PacketAkka and Akka apart. Akka starts it from
/// <c>akka.loggers</c> and gives it no arguments; the factory comes in the actor system's <see cref="Setup"/>.
/// </remarks>
internal sealed class LoggerFactoryLogger : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>The factory the reactor's log goes to, carried into the actor system.</summary>
    internal sealed class Setup(ILoggerFactory factory) : Akka.Actor.Setup.Setup
    {
        public ILoggerFactory Factory { get; } = factory;
    }

    /// <summary>The <c>akka.loggers</c> entry that starts this logger.</summary>
    internal const string ConfigName = "Packet.Actors.Runtime.LoggerFactoryLogger, Packet.Actors";

    private readonly ILoggerFactory _factory = Context.System.Settings.Setup.Get<Setup>().Value?.Factory
        ?? throw new InvalidOperationException($"{ConfigName} is in akka.loggers, but the actor system was started without a logger factory");

    private readonly Dictionary<string, ILogger> _loggers = new();

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent log:
                Write(log);
                return true;
            default:
                return false;
        }
    }

    private void Write(LogEvent log)
    {
        if (!Context.System.Settings.LogFilter.ShouldTryKeepMessage(log, out _)) return; // the system's log filters, as Akka's own loggers apply them
        var category = log.LogClass is { } type && type != typeof(DummyClassForStringSources) ? type.FullName ?? type.Name : log.LogSource;
        if (!_loggers.TryGetValue(category, out var logger)) _loggers[category] = logger = _factory.CreateLogger(category);
        var level = Level(log.LogLevel());
        if (!logger.IsEnabled(level)) return;
        logger.Log(level, default, new Record(log), (log as Error)?.Cause, static (record, _) => record.Text);
    }

    /// <summary>Akka's level as Microsoft.Extensions.Logging's.</summary>
    internal static LogLevel Level(AkkaLogLevel level) => level switch
    {
        AkkaLogLevel.DebugLevel => LogLevel.Debug,
        AkkaLogLevel.InfoLevel => LogLevel.Information,
        AkkaLogLevel.WarningLevel => LogLevel.Warning,
        _ => LogLevel.Error,
    };

    /// <summary>A log event as Microsoft.Extensions.Logging's structured state: its named values, <c>ActorPath</c> and <c>{OriginalFormat}</c>.</summary>
    private sealed class Record : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _fields;

        public Record(LogEvent log)
        {
            Text = log.Message?.ToString() ?? "";
            var names = log.GetPropertyNames();
            var values = log.GetParameters().ToArray();
            var fields = new List<KeyValuePair<string, object?>>(names.Count + 2);
            for (var i = 0; i < names.Count && i < values.Length; i++) fields.Add(new(names[i], values[i]));
            fields.Add(new("ActorPath", log.LogSource));
            fields.Add(new("{OriginalFormat}", log.Message is LogMessage template ? template.Format : Text));
            _fields = [.. fields];
        }

        public string Text { get; }

        public int Count => _fields.Length;

        public KeyValuePair<string, object?> this[int index] => _fields[index];

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => Text;
    }
}
