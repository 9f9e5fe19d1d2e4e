using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Packet.Bench.Servers;

/// <summary>
/// The worker cells' floor: what handing each line to another process costs with nothing in between. A
/// TCP line server hands every line to one child process (this program in <c>worker-floor-child</c>
/// mode) over a Unix domain socket, and sends the child's answer back to the connection the line came
/// from. No actors, no serializer, no framework: each line crosses as an id, a length and its bytes;
/// everything queued while the previous write to the child was under way goes in the next one, and the
/// child answers everything one read brought in one write. PacketAkka's AskWorker line echo does the
/// same hop with all its machinery; ÷ floor is what that machinery costs.
/// </summary>
public static class WorkerFloorServer
{
    /// <summary>The server's mode name, in the cells and the results.</summary>
    public const string Name = "worker-floor-server";

    /// <summary>The longest line taken; a longer one closes its connection.</summary>
    private const int MaxLine = 64 * 1024;

    /// <summary>A hop frame's header: the connection's id and the line's length, each a little-endian int32.</summary>
    private const int Header = 8;

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
        var floor = new Floor(hop);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.WriteLine($"listening on {listener.LocalEndPoint}");
        Run(floor.Answer);
        while (true)
        {
            var socket = await listener.AcceptAsync();
            socket.NoDelay = true;
            Run(() => floor.Serve(socket));
        }
    }

    /// <summary>A thread of its own, blocked in its socket's read: the kernel wakes it straight, with no event loop or pool between.</summary>
    private static void Run(Action loop) => new Thread(() => loop()) { IsBackground = true }.Start();

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

    /// <summary>A client connection, and the answers for it that the child's last read brought (touched by <see cref="Floor.Answer"/> only).</summary>
    private sealed class Client(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public byte[] Answers = new byte[4096];

        public int AnswersLength;
    }

    /// <summary>
    /// The server's side of the hop: frames lines to the child, and routes its answers to their
    /// connections. A client that stops reading holds up the others: this is a floor for a bench whose
    /// clients always read, not a server to copy.
    /// </summary>
    private sealed class Floor(Socket hop)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<int, Client> _connections = [];
        private byte[] _queued = new byte[64 * 1024];
        private byte[] _sending = new byte[64 * 1024];
        private int _queuedLength;
        private bool _forwarding; // a connection is writing the queue to the child, and will look at it again before it stops
        private int _lastId;

        /// <summary>Reads lines from one connection and queues each for the child, every line of a read under one lock.</summary>
        public void Serve(Socket socket)
        {
            int id;
            lock (_gate) _connections[id = ++_lastId] = new Client(socket);
            var buffer = new byte[MaxLine];
            var filled = 0;
            try
            {
                while (filled < buffer.Length)
                {
                    var n = socket.Receive(buffer.AsSpan(filled), SocketFlags.None);
                    if (n == 0) break;
                    filled += n;
                    var start = 0;
                    var forward = false;
                    lock (_gate)
                    {
                        for (var end = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n'); end >= 0; end = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n'))
                        {
                            Queue(id, buffer.AsSpan(start, end + 1));
                            start += end + 1;
                        }
                        if (start > 0 && !_forwarding) forward = _forwarding = true;
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
                lock (_gate) _connections.Remove(id);
                socket.Dispose();
            }
        }

        private void Queue(int id, ReadOnlySpan<byte> line)
        {
            if (_queuedLength + Header + line.Length > _queued.Length) Array.Resize(ref _queued, Math.Max(_queued.Length * 2, _queuedLength + Header + line.Length));
            BinaryPrimitives.WriteInt32LittleEndian(_queued.AsSpan(_queuedLength), id);
            BinaryPrimitives.WriteInt32LittleEndian(_queued.AsSpan(_queuedLength + 4), line.Length);
            line.CopyTo(_queued.AsSpan(_queuedLength + Header));
            _queuedLength += Header + line.Length;
        }

        /// <summary>
        /// Writes whatever is queued to the child in one write, and again, until the queue is empty. The
        /// connection that queues a line when no one is forwarding does it, on its own thread: a
        /// forwarding task of its own would cost each line a thread's wake-up.
        /// </summary>
        private void Forward()
        {
            while (true)
            {
                int length;
                lock (_gate)
                {
                    if (_queuedLength == 0)
                    {
                        _forwarding = false;
                        return;
                    }
                    (_sending, _queued) = (_queued, _sending);
                    length = _queuedLength;
                    _queuedLength = 0;
                }
                SendAll(hop, _sending.AsSpan(0, length));
            }
        }

        /// <summary>Reads the child's answers and sends each connection everything one read brought for it in one write.</summary>
        public void Answer()
        {
            var input = new byte[256 * 1024];
            var filled = 0;
            var touched = new List<Client>();
            while (true)
            {
                var n = hop.Receive(input.AsSpan(filled), SocketFlags.None);
                if (n == 0) throw new InvalidOperationException("the floor's child closed its socket");
                filled += n;
                var at = 0;
                while (Frame(input.AsSpan(at, filled - at)) is var length and > 0)
                {
                    var id = BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(at));
                    Client? client;
                    lock (_gate) _connections.TryGetValue(id, out client);
                    if (client is not null)
                    {
                        if (client.AnswersLength == 0) touched.Add(client);
                        if (client.AnswersLength + length > client.Answers.Length) Array.Resize(ref client.Answers, Math.Max(client.Answers.Length * 2, client.AnswersLength + length));
                        input.AsSpan(at + Header, length - Header).CopyTo(client.Answers.AsSpan(client.AnswersLength));
                        client.AnswersLength += length - Header;
                    }
                    at += length;
                }
                foreach (var client in touched)
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
                touched.Clear();
                input.AsSpan(at, filled - at).CopyTo(input);
                filled -= at;
            }
        }
    }
}
