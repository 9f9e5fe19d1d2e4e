using System.Diagnostics;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors.Workers.Protocol;
using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Fuzz;

/// <summary>
/// Every framer that reads bytes from the network, fed random and mutated inputs.
/// Seeded, so a failure repeats; 100,000 inputs each by default, more with PACKET_FUZZ_ITERATIONS.
/// Each input must end in frames or the documented error, within bounded time and memory.
/// </summary>
public sealed class FuzzTests
{
    private const int Limit = 1024;

    /// <summary>Lines get a small limit, so random input reaches the overflow path too.</summary>
    private const int LineLimit = 24;

    private static readonly int Iterations =
        int.TryParse(Environment.GetEnvironmentVariable("PACKET_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 100_000;

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
    /// Feeds <see cref="Iterations"/> inputs, each cut into random chunks, to a fresh parser. Only
    /// <typeparamref name="TDocumented"/> may escape; each input must finish within a second and allocate
    /// at most a bounded amount (a parser that trusted a garbage length would allocate it).
    /// </summary>
    private static void Fuzz<TDocumented>(string parser, int seed, Action<byte[][]> parse, Func<Random, byte[]>? sample = null) where TDocumented : Exception
    {
        var random = new Random(seed);
        var rejected = 0;
        var clock = new Stopwatch();
        for (var i = 0; i < Iterations; i++)
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
        Assert.InRange(rejected, 1, Iterations - 1); // the inputs exercised both paths
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

    /// <summary>A line handler that enters binary mode on "B&lt;n&gt;" lines, as a header announcing a body would.</summary>
    private sealed class Lines(LineFramer framer) : ILineHandler
    {
        public void OnLine(ReadOnlySpan<byte> line)
        {
            Assert.True(line.Length <= LineLimit);
            if (line.Length > 1 && line[0] == (byte)'B' && int.TryParse(line[1..], out var size) && size is >= 0 and <= LineLimit)
                framer.SetBinaryMode(size);
        }

        public void OnBinary(ReadOnlyMemory<byte> data) => Assert.True(data.Length <= LineLimit);
    }

    [Fact]
    public void The_line_framer_survives_random_and_mutated_input() =>
        Fuzz<FramingException>("lines", 303, chunks =>
        {
            var framer = new LineFramer(LineLimit, LineLimit);
            var lines = new Lines(framer);
            foreach (var chunk in chunks) framer.Decode(chunk, lines);
        });

    private static readonly string[] Kinds = ["work", "out", "reg", "ok", "no", "dlv", "push", "fwd"];

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
            new WorkerProtocol.Registered(system.DeadLetters),
            new WorkerProtocol.Refused("wrong secret"),
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
