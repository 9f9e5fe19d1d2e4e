using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Packet.Bench.Load;

namespace Packet.Bench.Soak;

/// <summary>
/// The soak and chaos run. It starts a <see cref="SoakServer"/> process and, for the time given, drives
/// at once: 2,000 churning connections (connect, echo, close), 200 long-lived echo connections, 10
/// slow readers taking 1 byte a second from the firehose, garbage senders on the framed server, and
/// 20 clients asking three WorkerHosts through AskWorker while one WorkerHost is killed with SIGKILL
/// every 5 s, one client flooding the same server with asks as fast as its socket takes them, and a
/// stranger on the machine attacking the master's worker link (raw bytes, and Identify, PoisonPill
/// and Kill from a plain Akka.Remote system). Then it stops the server with SIGTERM while 5 more clients
/// have asks in flight, and checks every invariant (among them: every ask the server took got exactly
/// one outcome, and none it took was left unanswered by the stop); each broken one is printed, and the
/// exit code is 1.
/// </summary>
public static class SoakRun
{
    /// <summary>The server's resident memory must stay under this (the README's bound).</summary>
    public const long RssBoundMiB = 512;

    private const int Churners = 2000;
    private const int Echoers = 200;
    private const int SlowReaders = 10;
    private const int GarbageSenders = 4;
    private const int Askers = 20;
    private const int AsksInFlight = 4;
    private const int StopAskers = 5;
    private static readonly TimeSpan IoLimit = TimeSpan.FromSeconds(30);


    public static async Task<int> RunAsync(TimeSpan duration, string transport)
    {
        var soak = new Soak();
        using var server = ServerProcess.Start(transport);
        try
        {
            var ports = await server.ReadyAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(2)); // let the WorkerHosts settle before the baseline
            var fdsBefore = ServerFds(server.Pid);
            var kindsBefore = FdKinds(server.Pid);
            var targetsBefore = FdTargets(server.Pid);
            var rssBefore = ProcessStats.RssKiB(server.Pid) / 1024;
            Console.WriteLine($"soak: {duration.TotalSeconds:F0} s on {transport}; server pid {server.Pid}, {fdsBefore} fds, {rssBefore} MiB");

            var clock = Stopwatch.StartNew();
            bool Running() => clock.Elapsed < duration;
            var loads = new List<Task>();
            loads.AddRange(Enumerable.Range(0, Churners).Select(i => soak.Churn(ports["echo"], i, Running)));
            loads.AddRange(Enumerable.Range(0, Echoers).Select(i => soak.Echo(ports["echo"], i, Running)));
            loads.AddRange(Enumerable.Range(0, SlowReaders).Select(i => soak.ReadSlowly(ports["firehose"], Running)));
            loads.AddRange(Enumerable.Range(0, GarbageSenders).Select(i => soak.SendGarbage(ports["framed"], i, Running)));
            loads.AddRange(Enumerable.Range(0, Askers).Select(i => soak.Ask(ports["asks"], i, Running)));
            loads.Add(soak.Flood(ports["asks"], Running));
            loads.Add(soak.AttackLink(server.Pid, ports.Values.ToHashSet(), Running));
            var chaos = soak.KillWorkerHosts(server, Running);
            await Task.WhenAll(loads.Append(chaos)).WaitAsync(duration + TimeSpan.FromMinutes(2));

            soak.Check(await Until(() => WorkerHosts(server.Pid).Count == SoakServer.WorkerHosts, TimeSpan.FromSeconds(30)),
                $"the restart policy did not bring back every WorkerHost: {WorkerHosts(server.Pid).Count} of {SoakServer.WorkerHosts} run");
            var fdsAfter = 0;
            var kindsAfter = "";
            soak.Check(await Until(() => Math.Abs((fdsAfter = ServerFds(server.Pid)) - fdsBefore) <= 10, TimeSpan.FromSeconds(30)),
                $"the server's open sockets and pipes did not return to their starting level: {fdsBefore} before, {fdsAfter} after");
            kindsAfter = FdKinds(server.Pid);
            var opened = FdTargets(server.Pid).Except(targetsBefore).Select(t => t.StartsWith('/') ? Path.GetFileName(t) : t.Split('[')[0]).Distinct().Take(12);
            kindsAfter += $"; opened since the start: {string.Join(", ", opened)}";
            soak.Check(soak.MaxRssMiB <= RssBoundMiB, $"the server's resident memory reached {soak.MaxRssMiB} MiB, above the bound of {RssBoundMiB} MiB");

            // The stop itself, with asks in flight: each of these clients asks until the server closes it.
            var sigterm = new TaskCompletionSource();
            var stopAskers = Enumerable.Range(0, StopAskers).Select(i => soak.AskThroughStop(ports["slow-asks"], Askers + i, sigterm.Task)).ToArray();
            soak.Check(await Until(() => soak.StopAnswers >= StopAskers * 4, TimeSpan.FromSeconds(30)), "the askers of the stop got no answers before it");
            var stopping = server.StopAsync(TimeSpan.FromSeconds(60));
            sigterm.SetResult();
            var log = await stopping;
            await Task.WhenAll(stopAskers).WaitAsync(IoLimit);
            soak.Check(log is not null, "the server did not exit within 60 s of SIGTERM");
            soak.CheckAskAccounts(log ?? "");
            soak.Check(await Until(() => soak.SeenWorkerHosts.All(pid => !Alive(pid)), TimeSpan.FromSeconds(10)),
                $"WorkerHosts outlived the server: {string.Join(", ", soak.SeenWorkerHosts.Where(Alive))}");
            foreach (var line in (log ?? "").Split('\n').Where(l => l.Contains("Unhandled exception", StringComparison.Ordinal) || l.StartsWith("handler error:", StringComparison.Ordinal)).Take(5))
                soak.Fail($"the server logged: {line}");
            soak.Check(log?.Contains("handler errors: 0", StringComparison.Ordinal) == true, "the server did not report zero handler errors at its end");
            soak.Check(log?.Contains("stopped unexpectedly", StringComparison.Ordinal) == false, "the server's reactor or worker registry stopped during the run");

            Console.WriteLine(soak.Report($"{fdsBefore} sockets and pipes at start, {fdsAfter} at the end; all kinds at start: {kindsBefore}; at the end: {kindsAfter}", rssBefore));
            return soak.Failed ? 1 : 0;
        }
        finally
        {
            foreach (var pid in soak.SeenWorkerHosts.Where(Alive)) Kill(pid); // a failed run still reaps what it started
        }
    }

    /// <summary>Counters and failures of one run; every load loop below ends at its deadline, each I/O within <see cref="IoLimit"/>.</summary>
    private sealed class Soak
    {
        private readonly ConcurrentQueue<string> _failures = new();
        private readonly List<long> _rssKiB = []; // one sample a second, by the chaos loop only
        private long _failureCount, _churned, _echoBytes, _slowBytes, _garbage, _goodFrames, _asked, _answered, _asksFailed, _kills, _floodBytes, _floodAnswerBytes, _attacks;

        public ConcurrentDictionary<int, bool> WorkerHostPids { get; } = new();

        public IEnumerable<int> SeenWorkerHosts => WorkerHostPids.Keys;

        public bool Failed => Interlocked.Read(ref _failureCount) > 0;

        public long MaxRssMiB => MaxMiB(_rssKiB);

        private static long MaxMiB(IEnumerable<long> samples) => samples.DefaultIfEmpty(0).Max() / 1024;

        public void Fail(string what)
        {
            if (Interlocked.Increment(ref _failureCount) <= 20) _failures.Enqueue(what);
        }

        public void Check(bool held, string otherwise)
        {
            if (!held) Fail(otherwise);
        }

        /// <summary>Connect, echo 64 B to 1 KiB, close, pause up to a second; again until the end.</summary>
        public async Task Churn(int port, int seed, Func<bool> running)
        {
            var random = new Random(seed);
            await Task.Delay(random.Next(1000)); // spread the first connects
            while (running())
                await Guarded("churn", async () =>
                {
                    using var socket = await Loopback.ConnectAsync(port);
                    var payload = new byte[random.Next(64, 1025)];
                    random.NextBytes(payload);
                    await Exchange(socket, payload);
                    Interlocked.Increment(ref _churned);
                    await Task.Delay(random.Next(1000));
                });
        }

        /// <summary>One connection for the whole run, echoing 1 to 16 KiB at a time.</summary>
        public async Task Echo(int port, int seed, Func<bool> running)
        {
            var random = new Random(1000 + seed);
            await Guarded("echo", async () =>
            {
                using var socket = await Loopback.ConnectAsync(port);
                while (running())
                {
                    var payload = new byte[random.Next(1, 16 * 1024 + 1)];
                    random.NextBytes(payload);
                    await Exchange(socket, payload);
                    Interlocked.Add(ref _echoBytes, payload.Length);
                    await Task.Delay(random.Next(100));
                }
            });
        }

        /// <summary>Reads the firehose one byte a second, checking each against the pattern.</summary>
        public async Task ReadSlowly(int port, Func<bool> running) =>
            await Guarded("slow reader", async () =>
            {
                using var socket = await Loopback.ConnectAsync(port);
                for (long offset = 0; running(); offset++)
                {
                    var one = await ReadExactly(socket, 1);
                    if (one[0] != (byte)(offset % SoakServer.PatternPeriod))
                        throw new InvalidDataException($"firehose byte {offset} is {one[0]}, not {offset % SoakServer.PatternPeriod}");
                    Interlocked.Increment(ref _slowBytes);
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            });

        /// <summary>Random bytes then FIN, expecting the server to close; every tenth connection sends a good frame and expects it back.</summary>
        public async Task SendGarbage(int port, int seed, Func<bool> running)
        {
            var random = new Random(2000 + seed);
            for (var i = 0; running(); i++)
                await Guarded("framed", async () =>
                {
                    using var socket = await Loopback.ConnectAsync(port);
                    if (i % 10 == 0)
                    {
                        var frame = new byte[4 + random.Next(1, 1025)];
                        random.NextBytes(frame.AsSpan(4));
                        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
                        await Exchange(socket, frame);
                        Interlocked.Increment(ref _goodFrames);
                        return;
                    }
                    var garbage = new byte[random.Next(1, 4097)];
                    random.NextBytes(garbage);
                    await socket.SendAsync(garbage, SocketFlags.None);
                    socket.Shutdown(SocketShutdown.Send);
                    await ReadToEnd(socket); // the server must end it: a protocol error, or FIN after answering
                    Interlocked.Increment(ref _garbage);
                });
        }

        /// <summary>
        /// Lines "cN-SEQ", up to <see cref="AsksInFlight"/> unanswered at once. Each must come back exactly
        /// once, to this client, as "ok LINE" or "error LINE: WHY"; at the end none may be left.
        /// </summary>
        public async Task Ask(int port, int client, Func<bool> running) =>
            await Guarded("asks", async () =>
            {
                using var socket = await Loopback.ConnectAsync(port);
                using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
                var outstanding = new HashSet<string>();
                using var slots = new SemaphoreSlim(AsksInFlight);
                var reading = Task.Run(async () =>
                {
                    // Ends at the server's FIN, or when this connection is disposed; awaited below within IoLimit.
                    while (await reader.ReadLineAsync() is { } line)
                    {
                        var ok = line.StartsWith("ok ", StringComparison.Ordinal);
                        var id = ok ? line[3..] : line.StartsWith("error ", StringComparison.Ordinal) && line.IndexOf(':') is > 6 and var colon ? line[6..colon] : null;
                        bool known;
                        lock (outstanding) known = id is not null && outstanding.Remove(id);
                        if (!known)
                        {
                            Fail(id is not null && !id.StartsWith($"c{client}-", StringComparison.Ordinal)
                                ? $"asker {client} got another connection's outcome: {line}"
                                : $"asker {client} got an outcome it was not owed (duplicate or unknown): {line}");
                            continue;
                        }
                        if (ok) Interlocked.Increment(ref _answered);
                        else Interlocked.Increment(ref _asksFailed);
                        slots.Release();
                    }
                });
                for (var seq = 0; running(); seq++)
                {
                    if (!await slots.WaitAsync(IoLimit)) throw new TimeoutException($"asker {client}: no outcome for {IoLimit}");
                    var id = $"c{client}-{seq}";
                    lock (outstanding) outstanding.Add(id);
                    await socket.SendAsync(Encoding.UTF8.GetBytes(id + "\n"), SocketFlags.None);
                    Interlocked.Increment(ref _asked);
                    await Task.Delay(10);
                }
                var drained = await Until(() => { lock (outstanding) return outstanding.Count == 0; }, IoLimit);
                if (!drained) lock (outstanding) Fail($"asker {client}: {outstanding.Count} asks got no outcome ({string.Join(", ", outstanding.Take(3))}...)");
                socket.Shutdown(SocketShutdown.Send); // the server closes once every ask is answered
                await reading.WaitAsync(IoLimit);
            });

        private long _stopAnswers, _stopAnswersAfterSigterm;

        public long StopAnswers => Interlocked.Read(ref _stopAnswers);

        /// <summary>
        /// Asks, 4 in flight, until the server closes the connection: it is stopped meanwhile. Every outcome
        /// must be owed, and some must come after the SIGTERM (asks in flight then are answered, not cut
        /// off). Lines sent once the server stopped reading get none; the server's own count says that
        /// every ask it took was answered.
        /// </summary>
        public async Task AskThroughStop(int port, int client, Task sigterm) =>
            await Guarded("asks through the stop", async () =>
            {
                using var socket = await Loopback.ConnectAsync(port);
                using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
                var owed = new HashSet<string>();
                using var slots = new SemaphoreSlim(AsksInFlight);
                using var closed = new CancellationTokenSource();
                var reading = Task.Run(async () =>
                {
                    while (await reader.ReadLineAsync() is { } line)
                    {
                        var id = line.StartsWith("ok ", StringComparison.Ordinal) ? line[3..] : null;
                        bool known;
                        lock (owed) known = id is not null && owed.Remove(id);
                        if (!known)
                        {
                            Fail($"asker {client} got an outcome it was not owed, or an error, through the stop: {line}");
                            continue;
                        }
                        Interlocked.Increment(ref _stopAnswers);
                        if (sigterm.IsCompleted) Interlocked.Increment(ref _stopAnswersAfterSigterm);
                        slots.Release();
                    }
                    closed.Cancel(); // the server's FIN
                });
                try
                {
                    for (var seq = 0; seq < 1_000_000; seq++)
                    {
                        if (!await slots.WaitAsync(IoLimit, closed.Token)) throw new TimeoutException($"asker {client}: no outcome for {IoLimit}");
                        var id = $"c{client}-{seq}";
                        lock (owed) owed.Add(id);
                        await socket.SendAsync(Encoding.UTF8.GetBytes(id + "\n"), SocketFlags.None, closed.Token);
                        await Task.Delay(2, closed.Token);
                    }
                }
                catch (OperationCanceledException) when (closed.IsCancellationRequested)
                {
                }
                catch (SocketException) when (sigterm.IsCompleted)
                {
                }
                await reading.WaitAsync(IoLimit);
            });

        /// <summary>
        /// The server's own count at its end: every ask it made got exactly one outcome (handed to its
        /// connection, or dropped and counted because the connection had gone), none was left unanswered by
        /// the stop, and asks were answered after the SIGTERM.
        /// </summary>
        public void CheckAskAccounts(string log)
        {
            var line = log.Split('\n').FirstOrDefault(l => l.StartsWith("asks: ", StringComparison.Ordinal));
            if (line is null)
            {
                Fail("the server did not report its asks at its end");
                return;
            }
            var numbers = System.Text.RegularExpressions.Regex.Matches(line, "[0-9]+").Select(m => long.Parse(m.Value)).ToArray();
            var (made, answered, dropped, cutOff) = (numbers[0], numbers[1], numbers[2], numbers[3]);
            Check(made == answered + dropped, $"the server made {made} asks but handed {answered} outcomes and dropped {dropped}: {line}");
            Check(cutOff == 0, $"the stop closed connections with {cutOff} asks unanswered: {line}");
            Check(Interlocked.Read(ref _stopAnswersAfterSigterm) > 0, "no ask was answered after the SIGTERM: the stop did not happen with asks in flight");
            Console.WriteLine($"soak: the server's {line}; {_stopAnswers} asks answered to the askers of the stop, {_stopAnswersAfterSigterm} of them after the SIGTERM");
        }

        /// <summary>
        /// One client writes ask lines as fast as its socket takes them, reading what comes back, and resets
        /// at the end with asks outstanding. The server must slow it (its connection stops reading at
        /// max-asks-per-connection, and the rest waits in TCP's buffers, megabytes on loopback) without
        /// growing past the memory bound or starving the other askers, and must keep answering it: a
        /// stretch of the I/O limit with no answer fails the run.
        /// </summary>
        public async Task Flood(int port, Func<bool> running) =>
            await Guarded("ask flood", async () =>
            {
                using var socket = await Loopback.ConnectAsync(port);
                var lines = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("flood\n", 1_000)));
                var answered = Stopwatch.StartNew(); // since the last answer
                var reading = Task.Run(async () =>
                {
                    var buffer = new byte[65_536];
                    try
                    {
                        int read;
                        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                        {
                            Interlocked.Add(ref _floodAnswerBytes, read);
                            lock (answered) answered.Restart();
                        }
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        // the reset below
                    }
                });
                while (running())
                {
                    var sending = socket.SendAsync(lines, SocketFlags.None);
                    while (!sending.IsCompleted && running())
                    {
                        await Task.WhenAny(sending, Task.Delay(TimeSpan.FromSeconds(1)));
                        lock (answered)
                            if (answered.Elapsed > IoLimit) throw new TimeoutException($"the server gave the flood no answer for {IoLimit.TotalSeconds:F0} s");
                    }
                    if (sending.IsCompletedSuccessfully) Interlocked.Add(ref _floodBytes, lines.Length);
                }
                socket.LingerState = new LingerOption(true, 0); // a write may still be waiting: the reset ends it
                socket.Close();
                await reading.WaitAsync(IoLimit);
            });

        /// <summary>
        /// A stranger on the machine attacks the master's worker link five times a second: 64 random bytes on
        /// a raw connection, then Identify, PoisonPill and Kill to the master's actors from a plain
        /// Akka.Remote system. None may get through: the other loads go on being served, and the server's
        /// reactor must not stop.
        /// </summary>
        public async Task AttackLink(int serverPid, IReadOnlySet<int> servicePorts, Func<bool> running) =>
            await Guarded("link attacker", async () =>
            {
                var link = ListeningPorts(serverPid).Except(servicePorts).Single(); // the master's remoting port
                using var stranger = Akka.Actor.ActorSystem.Create("stranger", Akka.Configuration.ConfigurationFactory.ParseString("""
                    akka.loglevel = OFF
                    akka.stdout-loglevel = OFF
                    akka.actor.provider = remote
                    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
                    """));
                var random = new Random(15);
                while (running())
                {
                    using (var raw = await Loopback.ConnectAsync(link))
                    {
                        var junk = new byte[64];
                        random.NextBytes(junk);
                        await raw.SendAsync(junk, SocketFlags.None).WaitAsync(IoLimit);
                    }
                    foreach (var path in new[] { "/user/reactor", "/user/workers", "/user" })
                    {
                        var target = stranger.ActorSelection($"akka.tcp://packet@127.0.0.1:{link}{path}");
                        target.Tell(new Akka.Actor.Identify(1));
                        target.Tell(Akka.Actor.PoisonPill.Instance);
                        target.Tell(Akka.Actor.Kill.Instance);
                    }
                    Interlocked.Increment(ref _attacks);
                    await Task.Delay(200);
                }
                await stranger.Terminate();
            });

        /// <summary>Samples the server's memory each second, and kills one of its WorkerHosts every 5 s (SIGKILL), in turn.</summary>
        public async Task KillWorkerHosts(ServerProcess server, Func<bool> running)
        {
            var next = 0;
            for (var second = 1; running(); second++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                _rssKiB.Add(ProcessStats.RssKiB(server.Pid));
                var hosts = WorkerHosts(server.Pid);
                foreach (var pid in hosts) WorkerHostPids[pid] = true;
                if (second % 5 != 0 || hosts.Count == 0) continue;
                Kill(hosts[next++ % hosts.Count]);
                Interlocked.Increment(ref _kills);
            }
        }

        public string Report(string fds, long rssBefore)
        {
            var text = new StringBuilder();
            text.AppendLine($"  churned connections        {_churned:N0}");
            text.AppendLine($"  echo bytes verified        {_echoBytes:N0} on {Echoers} long-lived connections");
            text.AppendLine($"  slow-reader bytes verified {_slowBytes:N0} on {SlowReaders} connections");
            text.AppendLine($"  garbage connections ended  {_garbage:N0}, good frames echoed {_goodFrames:N0}");
            text.AppendLine($"  asks                       {_asked:N0} sent: {_answered:N0} answered, {_asksFailed:N0} failed with an error outcome");
            text.AppendLine($"  WorkerHosts killed         {_kills} (SIGKILL every 5 s); {WorkerHostPids.Count} WorkerHost processes seen");
            text.AppendLine($"  ask flood                  {_floodBytes:N0} bytes of ask lines written by one client, {_floodAnswerBytes:N0} bytes of answers read");
            text.AppendLine($"  worker-link attacks        {_attacks:N0} rounds of raw bytes, Identify, PoisonPill and Kill");
            var half = _rssKiB.Count / 2;
            text.AppendLine($"  server memory              {rssBefore} MiB at start; at most {MaxMiB(_rssKiB.Take(half))} MiB in the first half, {MaxMiB(_rssKiB.Skip(half))} MiB in the second (bound {RssBoundMiB} MiB)");
            text.AppendLine($"  server file descriptors    {fds}");
            text.Append(Failed ? $"FAILED: {_failureCount} broken invariant(s):\n  " + string.Join("\n  ", _failures) : "PASSED: every invariant held");
            return text.ToString();
        }

        private async Task Guarded(string load, Func<Task> body)
        {
            try
            {
                await body();
            }
            catch (Exception e)
            {
                Fail($"{load}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms; false if it still fails after <paramref name="limit"/>.</summary>
    internal static async Task<bool> Until(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit) return false;
            await Task.Delay(100);
        }
        return true;
    }

    // ---- socket exchanges, each call bounded by IoLimit ------------------------------------------------

    /// <summary>Sends <paramref name="payload"/> and checks that exactly it comes back.</summary>
    private static async Task Exchange(Socket socket, byte[] payload)
    {
        var reading = ReadExactly(socket, payload.Length);
        using (var limit = new CancellationTokenSource(IoLimit)) await socket.SendAsync(payload, SocketFlags.None, limit.Token);
        if (!(await reading).AsSpan().SequenceEqual(payload)) throw new InvalidDataException($"an echo of {payload.Length} bytes came back different");
    }

    private static async Task<byte[]> ReadExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var limit = new CancellationTokenSource(IoLimit);
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, limit.Token);
            if (n == 0) throw new EndOfStreamException($"the server closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>Reads until FIN or reset.</summary>
    private static async Task ReadToEnd(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        using var limit = new CancellationTokenSource(IoLimit);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // a protocol error resets the connection
        }
    }

    // ---- processes ----------------------------------------------------------------------------

    /// <summary>The server's WorkerHost children, from /proc.</summary>
    private static List<int> WorkerHosts(int serverPid)
    {
        var hosts = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText($"{dir}/stat");
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (parent == serverPid && File.ReadAllText($"{dir}/cmdline").Contains("Packet.WorkerHost", StringComparison.Ordinal)) hosts.Add(pid);
            }
            catch (IOException)
            {
                // the process ended while being read
            }
        }
        return hosts;
    }

    /// <summary>The TCP ports process <paramref name="pid"/> listens on, read from /proc.</summary>
    private static int[] ListeningPorts(int pid)
    {
        var sockets = FdTargets(pid).Where(t => t.StartsWith("socket:[", StringComparison.Ordinal)).Select(t => t[8..^1]).ToHashSet();
        return new[] { $"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length > 9 && fields[3] == "0A" && sockets.Contains(fields[9]))
            .Select(fields => Convert.ToInt32(fields[1][(fields[1].LastIndexOf(':') + 1)..], 16))
            .Distinct()
            .ToArray();
    }

    /// <summary>
    /// The process's sockets, pipes and other non-file descriptors: what a leaked connection or process
    /// would leave. Files are left out: .NET opens assemblies as it first needs them.
    /// </summary>
    internal static int ServerFds(int pid) =>
        Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count(fd => new FileInfo(fd).LinkTarget is { } target && !target.StartsWith('/'));

    private static HashSet<string> FdTargets(int pid) =>
        [.. Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Select(fd => new FileInfo(fd).LinkTarget ?? "?")];

    /// <summary>The process's descriptors by kind (socket, pipe, anon_inode:..., file), for a failure message.</summary>
    private static string FdKinds(int pid) =>
        string.Join(", ", Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget ?? "?")
            .GroupBy(target => target.Contains(':') ? target[..target.IndexOf(':')] + (target.StartsWith("anon_inode", StringComparison.Ordinal) ? target[target.IndexOf(':')..] : "") : "file")
            .OrderByDescending(g => g.Count())
            .Select(g => $"{g.Key} {g.Count()}"));

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}");

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            // already gone
        }
    }

    /// <summary>The soak server, a child process: its output is kept, its ports read from it.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Dictionary<string, int> _ports = [];

        private ServerProcess(Process process) => _process = process;

        public int Pid => _process.Id;

        public static ServerProcess Start(string transport)
        {
            var server = new ServerProcess(BenchRunner.StartSelf("soak-server", "--transport", transport));
            server._process.OutputDataReceived += (_, e) => server.Line(e.Data);
            server._process.ErrorDataReceived += (_, e) => server.Line(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            return server;
        }

        private void Line(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
            if (line.Split(" on ") is [var name, var endpoint] && IPEndPoint.TryParse(endpoint, out var parsed))
                lock (_ports) _ports[name] = parsed.Port;
            if (line == "ready") _ready.TrySetResult();
        }

        public async Task<IReadOnlyDictionary<string, int>> ReadyAsync(TimeSpan limit)
        {
            await _ready.Task.WaitAsync(limit);
            lock (_ports) return new Dictionary<string, int>(_ports);
        }

        /// <summary>SIGTERM, then waits for the exit; returns the whole output, or null if it did not exit in time.</summary>
        public async Task<string?> StopAsync(TimeSpan limit)
        {
            _ = SignalTerminate(Pid, 15);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(limit);
            }
            catch (TimeoutException)
            {
                return null;
            }
            lock (_log) return _log.ToString();
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int SignalTerminate(int pid, int signal);
    }
}
