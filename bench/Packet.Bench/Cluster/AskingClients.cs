using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Packet.Bench.Cluster;

/// <summary>
/// Clients asking a <see cref="ClusterMaster"/> in a loop, each with one line in flight, until stopped. Each
/// reply must be the client's own line, or an error naming a lost host; the rest is counted as other errors,
/// and a line with no reply within 35 s (the ask-timeout, 30 s, and 5 s to spare) as an ask without an outcome.
/// </summary>
internal sealed class AskingClients
{
    private readonly List<Task> _loops = [];
    private readonly List<TimeSpan> _failures = [];
    private readonly List<string> _otherExamples = [];
    private volatile bool _stopping;
    private long _answered;
    private int _other, _lost;

    /// <summary>Starts <paramref name="count"/> clients; with <paramref name="idempotent"/>, their lines ask idempotently (<see cref="ClusterMaster.IdempotentPrefix"/>).</summary>
    public AskingClients(int port, int count, bool idempotent = false)
    {
        for (var i = 0; i < count; i++)
        {
            var id = i;
            _loops.Add(Task.Run(() => LoopAsync(port, $"{(idempotent ? ClusterMaster.IdempotentPrefix : "")}client-{id}-")));
        }
    }

    /// <summary>Started with the clients: the clock of <see cref="Outcomes.Failures"/>.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>What the clients got: lines answered, when each ask that failed naming a lost host failed, other errors (the first few of them), and lines with no outcome.</summary>
    public sealed record Outcomes(long Answered, IReadOnlyList<TimeSpan> Failures, int Other, IReadOnlyList<string> OtherExamples, int Lost);

    /// <summary>What the clients got so far (they go on asking).</summary>
    public Outcomes Now()
    {
        lock (_failures) return new Outcomes(Interlocked.Read(ref _answered), [.. _failures], _other, [.. _otherExamples], Volatile.Read(ref _lost));
    }

    private async Task LoopAsync(int port, string prefix)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        var buffer = new byte[4096];
        for (var seq = 0; !_stopping; seq++)
        {
            var line = $"{prefix}{seq}";
            await socket.SendAsync(Encoding.ASCII.GetBytes(line + "\n"), SocketFlags.None);
            var reply = new StringBuilder();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(35));
            try
            {
                while (!reply.ToString().EndsWith('\n'))
                {
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
                    if (read == 0) throw new OperationCanceledException("the master closed the connection");
                    reply.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref _lost);
                return;
            }
            var answer = reply.ToString().TrimEnd('\n');
            if (answer == line) Interlocked.Increment(ref _answered);
            else if (answer.Contains(" is unreachable", StringComparison.Ordinal)) lock (_failures) _failures.Add(Clock.Elapsed);
            else
                lock (_failures)
                    if (++_other <= 5) _otherExamples.Add($"{line} got {answer}");
        }
    }

    /// <summary>Stops the clients asking; each waits for the outcome of the line it has in flight, up to <paramref name="limit"/>.</summary>
    public async Task<Outcomes> StopAsync(TimeSpan limit)
    {
        _stopping = true;
        await Task.WhenAll(_loops).WaitAsync(limit + TimeSpan.FromSeconds(5));
        return Now();
    }
}
