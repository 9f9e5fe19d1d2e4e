using Akka.Configuration;
using Packet.Actors;
using Packet.Bench.Servers;

namespace Packet.Bench.Soak;

/// <summary>
/// The server side of the soak run (<see cref="SoakRun"/>), in its own process so its memory and file
/// descriptors are its own. One reactor, four servers, each printed as <c>NAME on HOST:PORT</c>, then <c>ready</c>:
/// <list type="bullet">
/// <item><c>echo</c>: a plain echo;</item>
/// <item><c>framed</c>: echoes length-prefixed frames of at most 64 KiB; garbage closes the connection;</item>
/// <item><c>firehose</c>: writes a known byte pattern as fast as the peer takes it, within backpressure;</item>
/// <item><c>asks</c>: each line goes through AskWorker to one of three echo worker instances (three
/// WorkerHosts) and comes back as <c>ok LINE</c> or <c>error LINE: WHY</c>;</item>
/// <item><c>slow-asks</c>: the same, through one instance of a worker that takes 20 ms per ask, so that
/// asks are always in flight while the reactor stops.</item>
/// </list>
/// On SIGTERM the reactor stops gracefully; then it prints
/// <c>asks: made M, answered A, dropped D, unanswered at the stop U</c> and <c>handler errors: N</c>.
/// </summary>
public static class SoakServer
{
    /// <summary>The worker instance keys: one WorkerHost each.</summary>
    public static readonly string[] WorkerKeys = ["a", "b", "c"];

    /// <summary>The WorkerHosts the server runs: the keyed echoes, and the slow echo.</summary>
    public static int WorkerHosts => WorkerKeys.Length + 1;

    /// <summary>The firehose's byte at stream offset <c>i</c> is <c>(byte)(i % PatternPeriod)</c>.</summary>
    public const int PatternPeriod = 251;

    public static async Task RunAsync(string transport)
    {
        var errors = 0;
        var asks = new AskCounts();
        Reactor? running = null;
        var config = ConfigurationFactory.ParseString($"""
            packet.tcp.transport = {transport}
            packet.framing.max-frame-length = 64 KiB
            packet.workers.ask-timeout = 10s
            """).WithFallback(WorkerEchoServer.Config);
        await Reactor.RunAsync(async reactor =>
        {
            running = reactor;
            reactor.ErrorHandler = (_, e) =>
            {
                Interlocked.Increment(ref errors);
                Console.WriteLine($"handler error: {e}");
            };
            foreach (var key in WorkerKeys) await reactor.StartWorkerAsync<EchoWorker>(key);
            Console.WriteLine($"echo on {(await reactor.StartServerAsync<Echo>("127.0.0.1", 0)).LocalEndPoint}");
            Console.WriteLine($"framed on {(await reactor.StartServerAsync<FrameEcho>("127.0.0.1", 0)).LocalEndPoint}");
            Console.WriteLine($"firehose on {(await reactor.StartServerAsync<Firehose>("127.0.0.1", 0)).LocalEndPoint}");
            Console.WriteLine($"asks on {(await reactor.StartServerAsync("127.0.0.1", 0, () => new Asks(asks, "bench_echo"))).LocalEndPoint}");
            await reactor.StartWorkerAsync<SlowEchoWorker>();
            Console.WriteLine($"slow-asks on {(await reactor.StartServerAsync("127.0.0.1", 0, () => new Asks(asks, "soak_slow_echo"))).LocalEndPoint}");
            Console.WriteLine("ready");
        }, config);
        Console.WriteLine($"asks: made {asks.Made}, answered {asks.Answered}, dropped {running?.DroppedWorkerReplies ?? 0}, unanswered at the stop {asks.CutOff}");
        Console.WriteLine($"handler errors: {errors}");
    }

    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }

    private sealed class FrameEcho : FramedConnection
    {
        protected override void ReceiveFrame(ReadOnlyMemory<byte> frame) => SendFrame(frame.Span);
    }

    /// <summary>Tops its output up to 256 KiB every 10 ms: a slow reader holds it there, never more.</summary>
    private sealed class Firehose : Connection
    {
        private const int Chunk = 16 * 1024;
        private static readonly byte[] Pattern = Enumerable.Range(0, Chunk + PatternPeriod).Select(i => (byte)(i % PatternPeriod)).ToArray();
        private long _sent;

        protected override void PostInit() => AddPeriodicTimer(TimeSpan.FromMilliseconds(10), TopUp);

        private void TopUp()
        {
            while (OutboundDataSize < 256 * 1024)
            {
                var offset = (int)(_sent % PatternPeriod);
                SendData(Pattern.AsSpan(offset, Chunk));
                _sent += Chunk;
            }
        }
    }

    /// <summary>The asks of every <see cref="Asks"/> connection.</summary>
    private sealed class AskCounts
    {
        public long Made;
        public long Answered;
        public long CutOff; // asks a connection still had out when the stop closed it
    }

    /// <summary>Each line to one of the worker instances, chosen by the line's hash; the outcome names the line.</summary>
    private sealed class Asks(AskCounts counts, string worker) : LineConnection
    {
        private int _outstanding;

        protected override void ReceiveLine(string line)
        {
            Interlocked.Increment(ref counts.Made);
            _outstanding++;
            AskWorker(worker, line, reply =>
            {
                Interlocked.Increment(ref counts.Answered);
                _outstanding--;
                SendLine(reply.IsError ? $"error {line}: {reply.Error!.ReplaceLineEndings(" ")}" : $"ok {reply.Data}");
            }, worker == "bench_echo" ? WorkerKeys[(int)((uint)line.GetHashCode() % WorkerKeys.Length)] : null);
        }

        protected override void Unbind(UnbindReason reason)
        {
            if (reason.Kind == UnbindKind.Shutdown) Interlocked.Add(ref counts.CutOff, _outstanding);
        }
    }
}

/// <summary>Returns what it is given after 20 ms: slow enough that its asks are always in flight under the soak's stop.</summary>
[Worker("soak_slow_echo", NoAutoLoad = true)]
public sealed class SlowEchoWorker : Worker
{
    protected override object? ReceiveData(object? data)
    {
        Thread.Sleep(20);
        return data;
    }
}
