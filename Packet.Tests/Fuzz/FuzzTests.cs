using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Workers.Protocol;
using Packet.Io.Configuration;
using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Fuzz;

/// <summary>
/// Every framer that reads bytes from the network, fed random and mutated inputs.
/// Seeded, so a failure repeats; 100,000 inputs each by default, more with PACKET_FUZZ_ITERATIONS.
/// Each input must end in frames or the documented error, within bounded time and memory.
/// Each network decoder runs twice: with small limits, so that random input reaches the overflow
/// paths, and with the defaults of reference.conf, which a server runs with, where a header may
/// announce 16 MiB and must not make the decoder allocate it.
/// </summary>
public sealed class FuzzTests
{
    private const int Limit = 1024;

    /// <summary>Lines get a small limit, so random input reaches the overflow path too.</summary>
    private const int LineLimit = 24;

    private static readonly int Iterations =
        int.TryParse(Environment.GetEnvironmentVariable("PACKET_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 100_000;

    /// <summary>Inputs per decoder at the default limits: a fifth as many, so that the file stays near 10 s of CPU.</summary>
    private static readonly int DefaultLimitIterations = Math.Max(1, Iterations / 5);

    /// <summary>packet.framing from the embedded reference.conf: 64 KiB lines, 16 MiB blocks and frames.</summary>
    private static readonly TransportSettings Defaults = TransportSettings.From(Reactor.DefaultConfig);

    /// <summary>Valid streams to mutate: the shapes each parser expects.</summary>
    private static byte[] Sample(string parser, Random random) => parser switch
    {
        "length-prefixed" => Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => new LengthPrefixedFramer(Limit).Encode(RandomBytes(random, 40)))),
        "binparser" => Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => new BinParser(Limit).Encode(RandomBytes(random, 40)))),
        _ => Encoding.ASCII.GetBytes("hello\r\nB5\nabcde" + "line two\nB0\n\n"),
    };

    /// <summary>Random bytes, or a valid sample with flipped, inserted, deleted or repeated bytes.</summary>
    private static byte[] Input(string parser, Random random, Func<Random, byte[]>? sample)
    {
        if (random.Next(3) == 0) return RandomBytes(random, 256);
        var bytes = (sample ?? (r => Sample(parser, r)))(random).ToList();
        for (var m = random.Next(1, 6); m > 0; m--)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(4))
            {
                case 0 when bytes.Count > 0: bytes[Math.Min(at, bytes.Count - 1)] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                case 2 when at < bytes.Count: bytes.RemoveAt(at); break;
                default: bytes.InsertRange(at, bytes.Take(random.Next(Math.Min(bytes.Count, 16) + 1)).ToArray()); break;
            }
        }
        return bytes.ToArray();
    }

    private static byte[] RandomBytes(Random random, int max)
    {
        var bytes = new byte[random.Next(max + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Concat(IEnumerable<byte[]> parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>
    /// A length for a header at the default limits: the limit, one past it, a small one, or any up to an
    /// eighth past the limit; most are far more than the few bytes that follow, as an attacker's would be.
    /// </summary>
    private static long Announced(Random random, int limit) => random.Next(4) switch
    {
        0 => limit,
        1 => limit + 1L,
        2 => random.Next(64),
        _ => random.NextInt64(limit + (limit / 8L)),
    };

    private static byte[] LengthPrefixedHeader(long length)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        return header;
    }

    private static byte[] BinParserHeader(long length) => Encoding.ASCII.GetBytes(length.ToString("D9", CultureInfo.InvariantCulture));

    /// <summary>One to three parts, each a valid small frame or a header announcing a large one and a few bytes of its body.</summary>
    private static byte[] FramesAtDefaults(Random random, Func<Random, byte[]> frame, Func<long, byte[]> header) =>
        Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(2) == 0
            ? frame(random)
            : Concat([header(Announced(random, Defaults.MaxFrameLength)), RandomBytes(random, 40)])));

    /// <summary>
    /// Feeds <paramref name="iterations"/> inputs (<see cref="Iterations"/> unless given), each cut into
    /// random chunks, to a fresh parser. Only <typeparamref name="TDocumented"/> may escape; each input
    /// must finish within a second and allocate at most a bounded amount (a parser that trusted a garbage
    /// length would allocate it). Unless <paramref name="rejects"/> is false, some inputs must be
    /// rejected and some not, so that both paths ran.
    /// </summary>
    private static void Fuzz<TDocumented>(string parser, int seed, Action<byte[][]> parse, Func<Random, byte[]>? sample = null, int? iterations = null, bool rejects = true) where TDocumented : Exception
    {
        var random = new Random(seed);
        var rejected = 0;
        var clock = new Stopwatch();
        var count = iterations ?? Iterations;
        for (var i = 0; i < count; i++)
        {
            var input = Input(parser, random, sample);
            var chunks = Framing.Chunking.RandomChunks(input, random.Next(), 1 + random.Next(64));
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            clock.Restart();
            try
            {
                parse(chunks);
            }
            catch (TDocumented)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{parser} input {i} (seed {seed}) threw {e.GetType().Name}, which is not its documented error: {e.Message}\n{Convert.ToHexString(input)}");
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{parser} input {i} (seed {seed}) took {clock.Elapsed}: a hang");
            var grew = GC.GetAllocatedBytesForCurrentThread() - allocated;
            Assert.True(grew < 256 * 1024, $"{parser} input {i} (seed {seed}) allocated {grew} bytes for {input.Length} bytes of input");
        }
        if (rejects) Assert.InRange(rejected, 1, count - 1); // the inputs exercised both paths
        else Assert.Equal(0, rejected);
    }

    [Fact]
    public void The_length_prefixed_framer_survives_random_and_mutated_input() =>
        Fuzz<FramingException>("length-prefixed", 101, chunks =>
        {
            var decoder = new LengthPrefixedFramer(Limit);
            foreach (var chunk in chunks) decoder.Decode(chunk, frame => Assert.True(frame.Length <= Limit));
        });

    [Fact]
    public void BinParser_survives_random_and_mutated_input() =>
        Fuzz<FramingException>("binparser", 202, chunks =>
        {
            var decoder = new BinParser(Limit);
            foreach (var chunk in chunks) decoder.Decode(chunk, frame => Assert.True(frame.Length <= Limit));
        });

    [Fact]
    public void The_length_prefixed_framer_survives_random_and_mutated_input_at_the_default_limits() =>
        Fuzz<FramingException>("length-prefixed at the default limits", 111, chunks =>
        {
            var decoder = new LengthPrefixedFramer(Defaults.MaxFrameLength);
            var received = chunks.Sum(c => c.Length);
            foreach (var chunk in chunks) decoder.Decode(chunk, frame => Assert.True(frame.Length < received));
        }, random => FramesAtDefaults(random, r => new LengthPrefixedFramer(Limit).Encode(RandomBytes(r, 40)), LengthPrefixedHeader), DefaultLimitIterations);

    [Fact]
    public void BinParser_survives_random_and_mutated_input_at_the_default_limits() =>
        Fuzz<FramingException>("binparser at the default limits", 212, chunks =>
        {
            var decoder = new BinParser(Defaults.MaxFrameLength);
            var received = chunks.Sum(c => c.Length);
            foreach (var chunk in chunks) decoder.Decode(chunk, frame => Assert.True(frame.Length < received));
        }, random => FramesAtDefaults(random, r => new BinParser(Limit).Encode(RandomBytes(r, 40)), BinParserHeader), DefaultLimitIterations);

    /// <summary>A line handler that enters binary mode on "B&lt;n&gt;" lines, as a header announcing a body would.</summary>
    private sealed class Lines(LineFramer framer) : ILineHandler
    {
        public void OnLine(ReadOnlySpan<byte> line)
        {
            Assert.True(line.Length <= framer.MaxLineLength);
            if (line.Length > 1 && line[0] == (byte)'B' && int.TryParse(line[1..], out var size) && size >= 0 && size <= framer.MaxBinaryLength)
                framer.SetBinaryMode(size);
        }

        public void OnBinary(ReadOnlyMemory<byte> data) => Assert.True(data.Length <= framer.MaxBinaryLength);
    }

    [Fact]
    public void The_line_framer_survives_random_and_mutated_input() =>
        Fuzz<FramingException>("lines", 303, chunks =>
        {
            var framer = new LineFramer(LineLimit, LineLimit);
            var lines = new Lines(framer);
            foreach (var chunk in chunks) framer.Decode(chunk, lines);
        });

    /// <summary>
    /// At the default limits no input this short can be a line over 64 KiB, so none is rejected: what is
    /// checked is that a "B16777216" line followed by a few bytes allocates, and takes, next to nothing.
    /// </summary>
    [Fact]
    public void The_line_framer_survives_random_and_mutated_input_at_the_default_limits() =>
        Fuzz<FramingException>("lines at the default limits", 313, chunks =>
        {
            var framer = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
            var lines = new Lines(framer);
            foreach (var chunk in chunks) framer.Decode(chunk, lines);
        }, random => Concat([
            Encoding.ASCII.GetBytes($"hello\r\nB5\nabcde\nB{Announced(random, Defaults.MaxBinaryLength)}\n"),
            RandomBytes(random, 40),
        ]), DefaultLimitIterations, rejects: false);

    /// <summary>The message type of the object-frame fuzz.</summary>
    internal sealed record Note(string Text, int Number, List<double>? Values);

    /// <summary>An <see cref="ObjectConnection{T}"/> outside a reactor, fed the frames its <see cref="FramedConnection"/> would cut.</summary>
    private sealed class Notes : ObjectConnection<Note>
    {
        public void Feed(ReadOnlyMemory<byte> frame) => ReceiveFrame(frame);

        protected override void ReceiveObject(Note value) => Assert.NotNull(value);
    }

    /// <summary>
    /// ObjectConnection's path: the 4-byte length-prefixed frames of a <see cref="FramedConnection"/> at the
    /// default limit, each read as JSON; a frame that is not a Note is a <see cref="FramingException"/> too.
    /// </summary>
    [Fact]
    public void Object_frames_survive_random_and_mutated_input_at_the_default_limits()
    {
        Note[] notes = [new("ping", 0, null), new("", -1, [3.14, 0]), new("\u00e9t\u00e9 \"quoted\"", int.MaxValue, [])];
        Fuzz<FramingException>("object frames at the default limits", 717, chunks =>
        {
            var decoder = new LengthPrefixedFramer(Defaults.MaxFrameLength);
            var objects = new Notes();
            foreach (var chunk in chunks) decoder.Decode(chunk, objects.Feed);
        }, random => FramesAtDefaults(
            random,
            r => new LengthPrefixedFramer(Limit).Encode(JsonSerializer.SerializeToUtf8Bytes(notes[r.Next(notes.Length)])),
            LengthPrefixedHeader), DefaultLimitIterations);
    }

    private static readonly string[] Kinds = ["work", "out", "reg", "ok", "dlv", "push", "fwd"];

    /// <summary>
    /// The worker protocol, as a master reads it from a WorkerHost (which may run hostile code) and a
    /// host from its master. An input's first byte picks the message kind; the rest is the message.
    /// </summary>
    [Fact]
    public void The_worker_protocol_reader_survives_random_and_mutated_input()
    {
        using var system = ActorSystem.Create("fuzz", ConfigurationFactory.ParseString("akka.loglevel = WARNING"));
        var serializer = new WorkerProtocolSerializer((ExtendedActorSystem)system);
        object[] messages =
        [
            new WorkerProtocol.Work([new WorkerProtocol.Job(1, new byte[] { 1, 2, 3 }), new WorkerProtocol.Job(2, Array.Empty<byte>())]),
            new WorkerProtocol.Outcomes([new WorkerProtocol.Outcome(7, new byte[] { 9 }, null), new WorkerProtocol.Outcome(8, null, "error")]),
            new WorkerProtocol.Register("secret", 42, "eval_worker", system.DeadLetters),
            new WorkerProtocol.Registered(system.DeadLetters, system.DeadLetters),
            new WorkerProtocol.Deliver(new byte[] { 4, 5 }),
            new WorkerProtocol.Push(new byte[] { 6 }),
            new WorkerProtocol.Forward("sink_worker", "key", new byte[] { 7 }),
        ];
        Fuzz<SerializationException>("worker protocol", 404, chunks =>
        {
            var input = Concat(chunks);
            if (input.Length == 0) throw new SerializationException("empty");
            serializer.FromBinary(input[1..], Kinds[input[0] % Kinds.Length]);
        }, random =>
        {
            var at = random.Next(messages.Length);
            return [(byte)at, .. serializer.ToBinary(messages[at])];
        });
    }

    /// <summary>
    /// Worker payloads, as a master reads a reply from a WorkerHost (which may run hostile code), with the
    /// default empty allow-list: built-in values through <see cref="ValueCodec"/>, and Hyperion refused.
    /// </summary>
    [Fact]
    public void The_worker_payload_reader_survives_random_and_mutated_input()
    {
        var payloads = new PayloadSerializer([], maxPayload: 64 * 1024);
        object[] values =
        [
            "text", new byte[] { 1, 2 }, 42, 79.99m, new[] { 1, 2, 3 }, new List<string?> { "a", null },
            new Dictionary<string, List<double>> { ["pi"] = [3.14] }, new HashSet<Guid> { Guid.Empty },
            new KeyValuePair<string, int>("k", 1), DateTimeOffset.UnixEpoch, new List<int[]> { new[] { 5 } },
        ];
        Fuzz<PayloadException>("worker payload", 505, chunks => payloads.Deserialize(Concat(chunks)),
            random => payloads.Serialize(values[random.Next(values.Length)]));
    }
}
