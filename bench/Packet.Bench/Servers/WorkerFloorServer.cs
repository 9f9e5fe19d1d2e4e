using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Packet.Bench.Load;

namespace Packet.Bench.Servers;

/// <summary>
/// The worker cells' floors: what handing each line to another process costs with nothing in between. A
/// TCP line server hands every line to one child process and sends the child's answer back to the
/// connection the line came from. No actors, no serializer, no framework: each line crosses as an id, a
/// length and its bytes, and the lines queued while the hop is busy go together. PacketAkka's AskWorker
/// line echo does the same hop with all its machinery; ÷ floor is what that machinery costs.
/// </summary>
/// <remarks>
/// Two hops, one front end: the floor (<see cref="Name"/>) crosses a Unix domain socket to
/// <c>worker-floor-child</c>; the Akka.Remote floor (<see cref="OverAkkaRemote"/>) crosses Akka.Remote to
/// the ping-pong's echo actor (<c>pong-server</c>). The second is the most any server can make of a hop
/// over Akka.Remote as it comes: its ÷ floor bounds PacketAkka's.
/// </remarks>
public static class WorkerFloorServer
{
    /// <summary>The floor's mode name, in the cells and the results.</summary>
    public const string Name = "worker-floor-server";

    /// <summary>The Akka.Remote floor's mode name, in the cells and the results.</summary>
    public const string OverAkkaRemote = "akka-remote-floor-server";

    /// <summary>The longest line taken; a longer one closes its connection.</summary>
    private const int MaxLine = 64 * 1024;

    /// <summary>A hop frame's header: the connection's id and the line's length, each a little-endian int32.</summary>
    private const int Header = 8;

    /// <summary>The floor: its hop is a Unix domain socket to a child process.</summary>
    public static async Task RunAsync(int port)
    {
        var path = Path.Combine(Path.GetTempPath(), $"packet-bench-floor-{Environment.ProcessId}.sock");
        File.Delete(path);
        Socket hop;
        using (var hopListener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            hopListener.Bind(new UnixDomainSocketEndPoint(path));
            hopListener.Listen(1);
            // The child exits when its socket closes, so it never outlives this process.
            Process.Start(new ProcessStartInfo("dotnet", ["exec", typeof(WorkerFloorServer).Assembly.Location, "worker-floor-child", "--socket", path]))!.Dispose();
            hop = await hopListener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(60));
            File.Delete(path);
        }
        var floor = new UnixFloor(hop);
        _ = Task.Run(floor.AnswerAsync);
        await ServeAsync(port, floor);
    }

    /// <summary>
    /// The Akka.Remote floor: its hop is Akka.Remote as it comes (<see cref="AkkaRemotePingPong.RemoteConfig"/>:
    /// DotNetty; TLS only with <paramref name="tls"/>) to the ping-pong's echo actor in a child process,
    /// batches as byte arrays.
    /// </summary>
    public static async Task RunOverAkkaRemoteAsync(int port, bool tls)
    {
        using var pong = Process.Start(new ProcessStartInfo("dotnet", ["exec", typeof(WorkerFloorServer).Assembly.Location, "pong-server", .. tls ? ["--tls"] : Array.Empty<string>()])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true, // it ends when this process ends, and with it this pipe
        })!;
        var address = (await pong.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)))!["listening on ".Length..];
        using var system = AkkaRemotePingPong.CreateSystem("floor", tls);
        var floor = new RemoteFloor(await system.ActorSelection($"{address}/user/pong").ResolveOne(TimeSpan.FromSeconds(10)));
        floor.Answers = system.ActorOf(Props.Create(() => new AnswerActor(floor)), "answers");
        await ServeAsync(port, floor);
    }

    /// <summary>
    /// Listens on 127.0.0.1:<paramref name="port"/> and serves each connection with .NET's socket engine
    /// (one epoll thread, completions on the thread pool). A thread per connection, blocked in its read,
    /// was 1.5× faster with 1 connection but 10–15% slower with 50 (pair.sh against the tools' floor),
    /// which made every ratio to this floor flatter PacketAkka there.
    /// </summary>
    private static async Task ServeAsync(int port, Floor floor)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.WriteLine($"listening on {listener.LocalEndPoint}");
        while (true)
        {
            var socket = await listener.AcceptAsync();
            socket.NoDelay = true;
            _ = Task.Run(() => floor.ServeAsync(socket));
        }
    }

    /// <summary>The child: answers each frame with the same frame, everything one read brought in one write, until its socket closes.</summary>
    public static void Child(string path)
    {
        using var hop = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        hop.Connect(new UnixDomainSocketEndPoint(path));
        var input = new byte[256 * 1024];
        var output = new byte[input.Length];
        var filled = 0;
        while (true)
        {
            var n = hop.Receive(input.AsSpan(filled), SocketFlags.None);
            if (n == 0) return;
            filled += n;
            int at = 0, written = 0;
            while (Frame(input.AsSpan(at, filled - at)) is var length and > 0)
            {
                input.AsSpan(at, length).CopyTo(output.AsSpan(written)); // the worker's work: echo
                at += length;
                written += length;
            }
            SendAll(hop, output.AsSpan(0, written));
            input.AsSpan(at, filled - at).CopyTo(input);
            filled -= at;
        }
    }

    /// <summary>The length of the whole frame that starts <paramref name="bytes"/>, or 0 when it has not all arrived.</summary>
    private static int Frame(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= Header && bytes.Length >= Header + BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]) ? Header + BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]) : 0;

    private static void SendAll(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty) bytes = bytes[socket.Send(bytes, SocketFlags.None)..];
    }

    /// <summary>A client connection, and the answers for it that the hop's last read brought (touched by <see cref="Floor.Route"/> only).</summary>
    private sealed class Client(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public byte[] Answers = new byte[4096];

        public int AnswersLength;
    }

    /// <summary>
    /// The server's side of a hop: reads lines from its connections, queues them as frames for the other
    /// process, and routes that process's answers to their connections. A client that stops reading holds
    /// up the others: this is a floor for a bench whose clients always read, not a server to copy.
    /// </summary>
    private abstract class Floor
    {
        private readonly Dictionary<int, Client> _connections = [];
        private readonly List<Client> _touched = [];
        private int _lastId;

        /// <summary>Guards the connections and the queue.</summary>
        protected readonly Lock Gate = new();

        /// <summary>The frames queued for the other process (under <see cref="Gate"/>).</summary>
        protected byte[] Queued = new byte[64 * 1024];

        /// <summary>How many bytes of <see cref="Queued"/> are frames.</summary>
        protected int QueuedLength;

        /// <summary>Reads lines from one connection and queues each for the other process, every line of a read under one lock.</summary>
        public async Task ServeAsync(Socket socket)
        {
            int id;
            lock (Gate) _connections[id = ++_lastId] = new Client(socket);
            var buffer = new byte[MaxLine];
            var filled = 0;
            try
            {
                while (filled < buffer.Length)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                    if (n == 0) break;
                    filled += n;
                    var start = 0;
                    var forward = false;
                    lock (Gate)
                    {
                        for (var end = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n'); end >= 0; end = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n'))
                        {
                            Queue(id, buffer.AsSpan(start, end + 1));
                            start += end + 1;
                        }
                        if (start > 0) forward = MayForward();
                    }
                    if (forward) Forward();
                    buffer.AsSpan(start, filled - start).CopyTo(buffer);
                    filled -= start;
                }
            }
            catch (SocketException)
            {
            }
            finally
            {
                lock (Gate) _connections.Remove(id);
                socket.Dispose();
            }
        }

        /// <summary>Under <see cref="Gate"/>, with frames queued: whether the caller is now to <see cref="Forward"/> them (taking what that needs).</summary>
        protected abstract bool MayForward();

        /// <summary>Sends what is queued to the other process, on the thread of the connection that queued it: a task of its own would cost each batch a thread's wake-up.</summary>
        protected abstract void Forward();

        private void Queue(int id, ReadOnlySpan<byte> line)
        {
            if (QueuedLength + Header + line.Length > Queued.Length) Array.Resize(ref Queued, Math.Max(Queued.Length * 2, QueuedLength + Header + line.Length));
            BinaryPrimitives.WriteInt32LittleEndian(Queued.AsSpan(QueuedLength), id);
            BinaryPrimitives.WriteInt32LittleEndian(Queued.AsSpan(QueuedLength + 4), line.Length);
            line.CopyTo(Queued.AsSpan(QueuedLength + Header));
            QueuedLength += Header + line.Length;
        }

        /// <summary>
        /// Routes the whole answer frames at the start of <paramref name="frames"/> to their connections, each
        /// connection's in one write, and returns how many bytes they took. One thread at a time calls it.
        /// </summary>
        protected int Route(ReadOnlySpan<byte> frames)
        {
            var at = 0;
            while (Frame(frames[at..]) is var length and > 0)
            {
                var id = BinaryPrimitives.ReadInt32LittleEndian(frames[at..]);
                Client? client;
                lock (Gate) _connections.TryGetValue(id, out client);
                if (client is not null)
                {
                    if (client.AnswersLength == 0) _touched.Add(client);
                    if (client.AnswersLength + length > client.Answers.Length) Array.Resize(ref client.Answers, Math.Max(client.Answers.Length * 2, client.AnswersLength + length));
                    frames.Slice(at + Header, length - Header).CopyTo(client.Answers.AsSpan(client.AnswersLength));
                    client.AnswersLength += length - Header;
                }
                at += length;
            }
            foreach (var client in _touched)
            {
                try
                {
                    SendAll(client.Socket, client.Answers.AsSpan(0, client.AnswersLength));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // the connection closed meanwhile: its answers go nowhere
                }
                client.AnswersLength = 0;
            }
            _touched.Clear();
            return at;
        }
    }

    /// <summary>The hop over a Unix socket: everything queued while the previous write was under way goes in the next write.</summary>
    private sealed class UnixFloor(Socket hop) : Floor
    {
        private byte[] _sending = new byte[64 * 1024];
        private bool _forwarding; // a connection is writing the queue to the child, and will look at it again before it stops

        protected override bool MayForward()
        {
            if (_forwarding) return false;
            _forwarding = true;
            return true;
        }

        /// <summary>Writes whatever is queued to the child in one write, and again, until the queue is empty.</summary>
        protected override void Forward()
        {
            while (true)
            {
                int length;
                lock (Gate)
                {
                    if (QueuedLength == 0)
                    {
                        _forwarding = false;
                        return;
                    }
                    (_sending, Queued) = (Queued, _sending);
                    length = QueuedLength;
                    QueuedLength = 0;
                }
                SendAll(hop, _sending.AsSpan(0, length));
            }
        }

        /// <summary>Reads the child's answers and routes them; ends this process if the child closes its socket.</summary>
        public async Task AnswerAsync()
        {
            var input = new byte[256 * 1024];
            var filled = 0;
            while (true)
            {
                var n = await hop.ReceiveAsync(input.AsMemory(filled), SocketFlags.None);
                if (n == 0)
                {
                    Console.Error.WriteLine("the floor's child closed its socket");
                    Environment.Exit(1);
                }
                filled += n;
                var at = Route(input.AsSpan(0, filled));
                input.AsSpan(at, filled - at).CopyTo(input);
                filled -= at;
            }
        }
    }

    /// <summary>
    /// The hop over Akka.Remote: what is queued goes as one byte array to the echo actor of the other
    /// process, with at most <see cref="Window"/> such batches unanswered; a batch's answer sends the next.
    /// </summary>
    private sealed class RemoteFloor(IActorRef echo) : Floor
    {
        /// <summary>
        /// Batches in flight at once, as PacketAkka's registry allows an instance. Measured at 50 × 1 against
        /// the Unix floor (pair.sh, medians of 3): 1 gave 0.65×, 2 gave 0.67×, 4 gave 0.63×, no limit 0.42×.
        /// </summary>
        private const int Window = 2;

        private int _inFlight;

        /// <summary>The actor in this process that the batches' answers come to.</summary>
        public IActorRef Answers { get; set; } = ActorRefs.Nobody;

        protected override bool MayForward()
        {
            if (_inFlight == Window) return false;
            _inFlight++;
            return true;
        }

        protected override void Forward()
        {
            byte[] batch;
            lock (Gate)
            {
                if (QueuedLength == 0)
                {
                    _inFlight--; // another connection's batch took these lines
                    return;
                }
                batch = Queued.AsSpan(0, QueuedLength).ToArray();
                QueuedLength = 0;
            }
            echo.Tell(batch, Answers);
        }

        /// <summary>A batch came back: its slot sends what is queued, then its lines go to their connections.</summary>
        public void Answered(byte[] frames)
        {
            var forward = true;
            lock (Gate)
            {
                if (QueuedLength == 0)
                {
                    _inFlight--;
                    forward = false;
                }
            }
            if (forward) Forward();
            Route(frames);
        }
    }

    /// <summary>Hands each batch that comes back to <see cref="RemoteFloor.Answered"/>.</summary>
    private sealed class AnswerActor : ReceiveActor
    {
        public AnswerActor(RemoteFloor floor) => Receive<byte[]>(floor.Answered);
    }
}
