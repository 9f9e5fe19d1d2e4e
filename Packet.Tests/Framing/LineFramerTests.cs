using System.Buffers.Text;
using System.Text;
using Packet.Actors;
using Packet.Io.Configuration;
using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Framing;

public sealed class LineFramerTests
{
    private const int MaxLine = 300;
    private const int MaxBinary = 1024;

    public static TheoryData<string> Delimiters => new() { "\n", "\r\n", "END", "abab" };

    private static byte[] Bytes(string text) => Chunking.Ascii(text);

    private static LineFramer Create(string delimiter, int maxLineLength = MaxLine) =>
        new(Bytes(delimiter), maxLineLength, MaxBinary);

    private static List<string> DecodeAll(LineFramer framer, IEnumerable<byte[]> chunks)
    {
        var handler = new ScriptedHandler(framer);
        foreach (var chunk in chunks)
        {
            framer.Decode(chunk, handler);
        }

        return handler.Events;
    }

    private static List<string> Lines(params string[] lines) => lines.Select(l => ScriptedHandler.Line(Bytes(l))).ToList();

    // A stream of lines and binary blocks (announced by "BIN n ..." lines), with the events it must yield.
    private static (byte[] Stream, List<string> Expected) Script(string delimiterText)
    {
        var delimiter = Bytes(delimiterText);
        var parts = new List<byte[]>();
        var expected = new List<string>();

        void Line(byte[] line)
        {
            if (Chunking.Concat([line, delimiter]).AsSpan().IndexOf(delimiter) != line.Length)
            {
                throw new InvalidOperationException("test bug: the line contains its delimiter");
            }

            parts.Add(line);
            parts.Add(delimiter);
            var stripped = delimiterText == "\n" && line is [.., (byte)'\r'] ? line[..^1] : line;
            expected.Add(ScriptedHandler.Line(stripped));
        }

        void Block(byte[] data)
        {
            parts.Add(data);
            expected.Add(ScriptedHandler.Block(data));
        }

        Line(Bytes("alpha"));
        Line([]);
        Line(Bytes("BIN 256"));
        Block(Chunking.AllByteValues());
        Line(Bytes("BIN 700"));
        Block(Enumerable.Range(0, 700).Select(i => (byte)(i * 13)).ToArray()); // the buffer doubles across it
        Line(Bytes("beta"));
        Line(Bytes("BIN 0"));
        Block([]);
        Line(Bytes("BIN 3 4 0"));
        Block(Bytes("abc"));
        Block(Bytes("defg"));
        Block([]);
        Line(Chunking.AllByteValues().Where(b => delimiter.Length > 1 || b != delimiter[0]).ToArray());

        var random = new Random(7);
        var alphabet = Chunking.Concat([delimiter, Bytes("xy\r")]);
        for (var i = 0; i < 25; i++)
        {
            var line = Enumerable.Range(0, random.Next(0, 11)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray();
            if (Chunking.Concat([line, delimiter]).AsSpan().IndexOf(delimiter) == line.Length)
            {
                Line(line);
            }
        }

        var withDelimiters = Chunking.Concat([Bytes("<"), delimiter, delimiter, Bytes(">")]);
        Line(Bytes($"BIN {withDelimiters.Length}"));
        Block(withDelimiters);
        Line(Bytes("omega"));
        return (Chunking.Concat(parts), expected);
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_yields_each_line_and_block_once_at_every_split_point(string delimiter)
    {
        var (stream, expected) = Script(delimiter);
        foreach (var split in Chunking.EveryTwoWaySplit(stream))
        {
            Assert.Equal(expected, DecodeAll(Create(delimiter), split));
        }
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_yields_each_line_and_block_once_when_fed_one_byte_at_a_time(string delimiter)
    {
        var (stream, expected) = Script(delimiter);
        Assert.Equal(expected, DecodeAll(Create(delimiter), Chunking.OneByteAtATime(stream)));
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_yields_each_line_and_block_once_for_random_chunk_sizes(string delimiter)
    {
        var (stream, expected) = Script(delimiter);
        for (var seed = 0; seed < 100; seed++)
        {
            Assert.Equal(expected, DecodeAll(Create(delimiter), Chunking.RandomChunks(stream, seed)));
        }
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_yields_each_line_and_block_from_one_chunk_holding_the_whole_stream(string delimiter)
    {
        var (stream, expected) = Script(delimiter);
        Assert.Equal(expected, DecodeAll(Create(delimiter), [stream]));
    }

    [Theory]
    [InlineData("END", "ENENDEENDEND", "EN|E|")]
    [InlineData("END", "EENNDDENDxEND", "EENNDD|x")]
    [InlineData("abab", "aabababab", "a|")]
    [InlineData("abab", "xabaababyabaabab", "xaba|yaba")]
    [InlineData("\r\n", "a\r\r\n\r\nb\n\r\n", "a\r||b\n")]
    public void LineFramer_finds_a_multibyte_delimiter_split_at_every_offset(string delimiter, string stream, string lines)
    {
        var expected = Lines(lines.Split('|'));
        foreach (var split in Chunking.EveryTwoWaySplit(Bytes(stream)))
        {
            Assert.Equal(expected, DecodeAll(Create(delimiter), split));
        }

        Assert.Equal(expected, DecodeAll(Create(delimiter), Chunking.OneByteAtATime(Bytes(stream))));
    }

    [Fact]
    public void LineFramer_strips_one_trailing_carriage_return_when_the_delimiter_is_a_newline()
    {
        var stream = Bytes("a\r\nb\n\r\nx\ry\nz\r\r\n\r\r\n");
        var expected = Lines("a", "b", "", "x\ry", "z\r", "\r");
        foreach (var split in Chunking.EveryTwoWaySplit(stream))
        {
            Assert.Equal(expected, DecodeAll(new LineFramer(MaxLine, MaxBinary), split));
        }
    }

    [Theory]
    [InlineData("END", "a\rENDb\r\nEND", "a\r|b\r\n")]
    [InlineData("\r", "a\r\nb\r", "a|\nb")]
    public void LineFramer_removes_only_the_delimiter_when_it_is_not_a_newline(string delimiter, string stream, string lines)
    {
        Assert.Equal(Lines(lines.Split('|')), DecodeAll(Create(delimiter), [Bytes(stream)]));
    }

    [Fact]
    public void LineFramer_delivers_a_binary_block_announced_by_a_line_in_the_same_chunk()
    {
        var stream = Bytes("BIN 5\nhello\nBIN 0\nnext\n");
        var expected = new List<string>
        {
            ScriptedHandler.Line(Bytes("BIN 5")),
            ScriptedHandler.Block(Bytes("hello")),
            ScriptedHandler.Line([]),
            ScriptedHandler.Line(Bytes("BIN 0")),
            ScriptedHandler.Block([]),
            ScriptedHandler.Line(Bytes("next")),
        };
        foreach (var split in Chunking.EveryTwoWaySplit(stream))
        {
            Assert.Equal(expected, DecodeAll(new LineFramer(MaxLine, MaxBinary), split));
        }
    }

    [Fact]
    public void LineFramer_delivers_back_to_back_binary_blocks_requested_from_OnBinary()
    {
        var stream = Bytes("BIN 2 3 1\r\nxy\nz\n\rafter\r\n");
        var expected = new List<string>
        {
            ScriptedHandler.Line(Bytes("BIN 2 3 1")),
            ScriptedHandler.Block(Bytes("xy")),
            ScriptedHandler.Block(Bytes("\nz\n")),
            ScriptedHandler.Block(Bytes("\r")),
            ScriptedHandler.Line(Bytes("after")),
        };
        foreach (var split in Chunking.EveryTwoWaySplit(stream))
        {
            Assert.Equal(expected, DecodeAll(new LineFramer(MaxLine, MaxBinary), split));
        }
    }

    [Fact]
    public void LineFramer_delivers_an_empty_block_for_SetBinaryMode_zero_before_the_next_line()
    {
        var events = DecodeAll(new LineFramer(MaxLine, MaxBinary), [Bytes("BIN 0\nnext\n")]);
        Assert.Equal([ScriptedHandler.Line(Bytes("BIN 0")), ScriptedHandler.Block([]), ScriptedHandler.Line(Bytes("next"))], events);
    }

    [Fact]
    public void LineFramer_turns_a_buffered_partial_line_into_the_start_of_a_block_requested_between_chunks()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        var handler = new ScriptedHandler(framer);
        framer.Decode(Bytes("head\nab"), handler);
        framer.SetBinaryMode(3);
        framer.Decode(Bytes("cline\npart"), handler);
        framer.Decode(Bytes("ial\n"), handler);
        Assert.Equal(
            [ScriptedHandler.Line(Bytes("head")), ScriptedHandler.Block(Bytes("abc")), ScriptedHandler.Line(Bytes("line")), ScriptedHandler.Line(Bytes("partial"))],
            handler.Events);
    }

    [Fact]
    public void LineFramer_returns_the_rest_of_a_buffered_partial_line_to_line_mode_after_a_short_block()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        var handler = new ScriptedHandler(framer);
        framer.Decode(Bytes("abcde"), handler);
        framer.SetBinaryMode(2);
        framer.Decode(Bytes("f\n"), handler);
        Assert.Equal([ScriptedHandler.Block(Bytes("ab")), ScriptedHandler.Line(Bytes("cdef"))], handler.Events);
    }

    [Fact]
    public void LineFramer_delivers_an_empty_block_requested_between_chunks_at_the_next_decode()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        var handler = new ScriptedHandler(framer);
        framer.SetBinaryMode(0);
        Assert.Empty(handler.Events);
        framer.Decode([], handler);
        Assert.Equal([ScriptedHandler.Block([])], handler.Events);
    }

    [Fact]
    public void SetBinaryMode_rejects_a_size_above_the_maximum_binary_length()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new LineFramer(MaxLine, MaxBinary).SetBinaryMode(MaxBinary + 1));
        Assert.Contains($"binary block of {MaxBinary + 1} bytes exceeds the limit of {MaxBinary} bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal("size", error.ParamName);
    }

    [Fact]
    public void SetBinaryMode_accepts_exactly_the_maximum_binary_length()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        var handler = new ScriptedHandler(framer);
        framer.SetBinaryMode(MaxBinary);
        framer.Decode(new byte[MaxBinary], handler);
        Assert.Equal([ScriptedHandler.Block(new byte[MaxBinary])], handler.Events);
    }

    [Fact]
    public void SetBinaryMode_rejects_a_negative_size()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LineFramer(MaxLine, MaxBinary).SetBinaryMode(-1));
    }

    [Fact]
    public void SetBinaryMode_rejects_a_second_request_before_the_first_block_is_delivered()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        framer.SetBinaryMode(4);
        framer.Decode(Bytes("ab"), new ScriptedHandler(framer));
        var error = Assert.Throws<InvalidOperationException>(() => framer.SetBinaryMode(1));
        Assert.Contains("binary block of 4 bytes (2 received so far)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LineFramer_is_poisoned_when_the_handler_requests_an_oversized_block()
    {
        var framer = new LineFramer(MaxLine, maxBinaryLength: 10);
        var handler = new ScriptedHandler(framer);
        Assert.Throws<ArgumentOutOfRangeException>(() => framer.Decode(Bytes("BIN 11\n"), handler));
        var error = Assert.Throws<FramingException>(() => framer.Decode(Bytes("x\n"), handler));
        Assert.Contains("desynchronised", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\n", "12345678\n")]
    [InlineData("\n", "12345678\r\n")]
    [InlineData("\r\n", "12345678\r\n")]
    [InlineData("END", "12345678END")]
    public void LineFramer_accepts_a_line_of_exactly_the_maximum_length(string delimiter, string stream)
    {
        foreach (var split in Chunking.EveryTwoWaySplit(Bytes(stream)))
        {
            Assert.Equal(Lines("12345678"), DecodeAll(Create(delimiter, maxLineLength: 8), split));
        }
    }

    [Theory]
    [InlineData("\n", "123456789\n")]
    [InlineData("\n", "123456789\r\n")]
    [InlineData("END", "123456789END")]
    public void LineFramer_rejects_a_complete_line_over_the_maximum_length_at_every_split_point(string delimiter, string stream)
    {
        foreach (var split in Chunking.EveryTwoWaySplit(Bytes(stream)))
        {
            var framer = Create(delimiter, maxLineLength: 8);
            var handler = new ScriptedHandler(framer);
            var error = Assert.Throws<FramingException>(() =>
            {
                framer.Decode(split[0], handler);
                framer.Decode(split[1], handler);
            });
            Assert.Contains("line of", error.Message, StringComparison.Ordinal);
            Assert.Empty(handler.Events);
            Assert.Throws<FramingException>(() => framer.Decode(Bytes("ok\n"), handler));
        }
    }

    [Fact]
    public void LineFramer_reports_the_length_of_a_complete_line_over_the_maximum()
    {
        var error = Assert.Throws<FramingException>(() => Create("\n", maxLineLength: 8).Decode(Bytes("123456789\n"), new ScriptedHandler(null)));
        Assert.Equal("line of 9 bytes exceeds the limit of 8 bytes", error.Message);
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_rejects_an_undelimited_line_as_soon_as_it_exceeds_the_maximum_length(string delimiter)
    {
        var framer = Create(delimiter, maxLineLength: 8);
        var handler = new ScriptedHandler(framer);
        for (var i = 0; i < 8; i++)
        {
            framer.Decode(Bytes("x"), handler);
        }

        var error = Assert.Throws<FramingException>(() => framer.Decode(Bytes("x"), handler));
        Assert.Equal("line of more than 8 bytes without a delimiter", error.Message);
        Assert.Empty(handler.Events);
    }

    [Theory]
    [MemberData(nameof(Delimiters))]
    public void LineFramer_rejects_a_huge_undelimited_chunk_without_buffering_it(string delimiter)
    {
        var framer = Create(delimiter, maxLineLength: 8);
        var error = Assert.Throws<FramingException>(() => framer.Decode(new byte[1 << 20], new ScriptedHandler(framer)));
        Assert.Equal("line of more than 8 bytes without a delimiter", error.Message);
    }

    [Theory]
    [InlineData("\n", "12345678\r", "\n")]
    [InlineData("END", "12345678EN", "D")]
    [InlineData("abab", "12345678aba", "b")]
    public void LineFramer_waits_for_a_possible_delimiter_before_rejecting_a_line_at_the_limit(string delimiter, string first, string second)
    {
        var framer = Create(delimiter, maxLineLength: 8);
        var handler = new ScriptedHandler(framer);
        framer.Decode(Bytes(first), handler);
        framer.Decode(Bytes(second), handler);
        Assert.Equal(Lines("12345678"), handler.Events);
    }

    [Theory]
    [InlineData("\n", "12345678\r", "x")]
    [InlineData("END", "12345678EN", "x")]
    [InlineData("abab", "12345678aba", "a")]
    public void LineFramer_rejects_a_line_at_the_limit_once_its_tail_cannot_be_the_delimiter(string delimiter, string first, string second)
    {
        var framer = Create(delimiter, maxLineLength: 8);
        var handler = new ScriptedHandler(framer);
        framer.Decode(Bytes(first), handler);
        Assert.Throws<FramingException>(() => framer.Decode(Bytes(second), handler));
    }

    [Fact]
    public void LineFramer_is_poisoned_when_the_handler_throws()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        Assert.Throws<TimeoutException>(() => framer.Decode(Bytes("a\nb\n"), new ThrowingHandler()));
        var error = Assert.Throws<FramingException>(() => framer.Decode(Bytes("c\n"), new ScriptedHandler(framer)));
        Assert.Contains("desynchronised", error.Message, StringComparison.Ordinal);
        Assert.IsType<TimeoutException>(error.InnerException);
    }

    [Fact]
    public void LineFramer_refuses_to_be_called_from_its_own_handler()
    {
        var framer = new LineFramer(MaxLine, MaxBinary);
        Assert.Throws<InvalidOperationException>(() => framer.Decode(Bytes("a\n"), new ReentrantHandler(framer)));
    }

    [Fact]
    public void LineFramer_rejects_an_empty_delimiter()
    {
        Assert.Throws<ArgumentException>(() => new LineFramer([], MaxLine, MaxBinary));
    }

    [Fact]
    public void LineFramer_exposes_its_delimiter_and_limits()
    {
        var framer = new LineFramer("\r\n"u8, 10, 20);
        Assert.Equal(Bytes("\r\n"), framer.Delimiter.ToArray());
        Assert.Equal(10, framer.MaxLineLength);
        Assert.Equal(20, framer.MaxBinaryLength);
        Assert.Equal(Bytes("\n"), new LineFramer(10, 20).Delimiter.ToArray());
    }

    /// <summary>packet.framing from the embedded reference.conf: 64 KiB lines, 16 MiB blocks.</summary>
    private static TransportSettings Defaults => TransportSettings.From(Reactor.DefaultConfig);

    /// <summary>
    /// The runtime may allocate a few KiB of its own while a test measures (type loads, tiered compilation),
    /// so the allocation bounds leave this much slack; a buffer sized by an announced length would be 16 MiB.
    /// </summary>
    private const int Slack = 16 * 1024;

    /// <summary>Bytes this thread allocates while <paramref name="action"/> runs.</summary>
    private static long Allocated(Action action)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    // Runs every decode path once, so that what the tests below measure is not the first call's.
    private static void WarmUp()
    {
        var framer = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
        var handler = new SizedBlocks(framer);
        foreach (var chunk in Chunking.OneByteAtATime(Bytes("4\nwarm4\n")))
        {
            framer.Decode(chunk, handler);
        }
    }

    [Fact]
    public void A_binary_block_of_the_default_limit_announced_then_a_few_bytes_allocates_only_a_few_hundred_bytes()
    {
        // A header line announcing 16 MiB must not make the server allocate 16 MiB: the buffer waits for the body.
        WarmUp();
        var framer = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
        var handler = new SizedBlocks(framer);
        var stream = Bytes($"{Defaults.MaxBinaryLength}\na few bytes");
        var fromALine = Allocated(() => framer.Decode(stream, handler));

        // SetBinaryMode between Decode calls, as a handler may call it from a timer or a worker reply.
        var between = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
        between.SetBinaryMode(between.MaxBinaryLength);
        var betweenCalls = Allocated(() => between.Decode(Bytes("a few bytes"), handler));

        Assert.Equal(0, handler.Blocks);
        Assert.True(fromALine <= Slack, $"a block of {Defaults.MaxBinaryLength} bytes announced in a line, then a few bytes, allocated {fromALine} bytes");
        Assert.True(betweenCalls <= Slack, $"SetBinaryMode({Defaults.MaxBinaryLength}), then a few bytes, allocated {betweenCalls} bytes");
    }

    [Fact]
    public void The_buffer_of_a_partial_block_grows_with_the_bytes_received_not_with_the_requested_size()
    {
        WarmUp();
        var framer = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
        var handler = new SizedBlocks(framer);
        var header = Bytes($"{Defaults.MaxBinaryLength}\n");
        var piece = new byte[4096];
        long received = 0, allocated = Allocated(() => framer.Decode(header, handler));
        while (received < 1024 * 1024)
        {
            allocated += Allocated(() => framer.Decode(piece, handler));
            received += piece.Length;

            // Doubling keeps the array within twice the bytes received, and all arrays made so far
            // within twice the last one.
            Assert.True(allocated <= (4 * received) + Slack, $"{allocated} bytes allocated after {received} bytes of the block");
        }

        Assert.Equal(0, handler.Blocks);
    }

    [Fact]
    public void A_binary_block_that_arrives_whole_in_one_chunk_is_copied_once_into_an_array_of_its_size()
    {
        WarmUp();
        var block = Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i * 7)).ToArray();
        var framer = new LineFramer(Defaults.MaxLineLength, Defaults.MaxBinaryLength);
        var handler = new SizedBlocks(framer, block);
        var stream = Chunking.Concat([Bytes($"{block.Length}\n"), block]);
        handler.OnBinary(block); // loaded before it is measured

        var allocated = Allocated(() => framer.Decode(stream, handler));

        Assert.Equal(2, handler.Blocks);
        Assert.True(allocated <= block.Length + Slack, $"a {block.Length}-byte block in one chunk allocated {allocated} bytes");
    }

    [Fact]
    public void LineFramer_yields_blocks_larger_than_the_buffer_it_keeps_between_blocks_for_random_chunk_sizes()
    {
        // Above 64 KiB the buffer is dropped once its block is delivered, and grown again for the next.
        var blocks = new[] { 100_000, 70_000, 5, 200_001 }.Select(n => Enumerable.Range(0, n).Select(i => (byte)(i * n)).ToArray()).ToArray();
        var stream = Chunking.Concat([Bytes($"BIN {string.Join(' ', blocks.Select(b => b.Length))}\r\n"), .. blocks, Bytes("end\r\n")]);
        List<string> expected = [ScriptedHandler.Line(Bytes($"BIN {string.Join(' ', blocks.Select(b => b.Length))}")), .. blocks.Select(b => ScriptedHandler.Block(b)), ScriptedHandler.Line(Bytes("end"))];
        for (var seed = 0; seed < 10; seed++)
        {
            Assert.Equal(expected, DecodeAll(new LineFramer(Bytes("\r\n"), MaxLine, 200_001), Chunking.RandomChunks(stream, seed, maxChunk: 5000)));
        }
    }

    /// <summary>
    /// A line holding a decimal number requests a block of that size; allocates nothing itself. Counts the
    /// blocks and, when given one, checks each against <c>expected</c>.
    /// </summary>
    private sealed class SizedBlocks(LineFramer framer, byte[]? expected = null) : ILineHandler
    {
        public int Blocks { get; private set; }

        public void OnLine(ReadOnlySpan<byte> line)
        {
            if (Utf8Parser.TryParse(line, out int size, out var consumed) && consumed == line.Length)
            {
                framer.SetBinaryMode(size);
            }
        }

        public void OnBinary(ReadOnlyMemory<byte> data)
        {
            Blocks++;
            if (expected is not null)
            {
                Assert.True(data.Span.SequenceEqual(expected), "the block was not delivered intact");
            }
        }
    }

    /// <summary>
    /// Records every line and block; a line "BIN a b c" requests blocks of a, b and c bytes, the
    /// first from OnLine, each next one from OnBinary.
    /// </summary>
    private sealed class ScriptedHandler(LineFramer? framer) : ILineHandler
    {
        private readonly Queue<int> _nextBlocks = new();

        public List<string> Events { get; } = [];

        public static string Line(ReadOnlySpan<byte> line) => "line " + Convert.ToHexString(line);

        public static string Block(ReadOnlySpan<byte> data) => "binary " + Convert.ToHexString(data);

        public void OnLine(ReadOnlySpan<byte> line)
        {
            Events.Add(Line(line));
            var text = Encoding.Latin1.GetString(line);
            if (framer is not null && text.StartsWith("BIN ", StringComparison.Ordinal))
            {
                var sizes = text[4..].Split(' ').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                foreach (var size in sizes[1..])
                {
                    _nextBlocks.Enqueue(size);
                }

                framer.SetBinaryMode(sizes[0]);
            }
        }

        public void OnBinary(ReadOnlyMemory<byte> data)
        {
            Events.Add(Block(data.Span));
            if (_nextBlocks.TryDequeue(out var size))
            {
                framer!.SetBinaryMode(size);
            }
        }
    }

    private sealed class ThrowingHandler : ILineHandler
    {
        public void OnLine(ReadOnlySpan<byte> line) => throw new TimeoutException("handler failed");

        public void OnBinary(ReadOnlyMemory<byte> data) => throw new TimeoutException("handler failed");
    }

    private sealed class ReentrantHandler(LineFramer framer) : ILineHandler
    {
        public void OnLine(ReadOnlySpan<byte> line) => framer.Decode("x\n"u8, this);

        public void OnBinary(ReadOnlyMemory<byte> data)
        {
        }
    }
}
