using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Framing;

public sealed class BinParserTests
{
    // Bytes next to the digits, signs and spaces that a lenient number parser would accept, and
    // bytes outside ASCII.
    private static readonly byte[] NonDigits = [(byte)'a', (byte)' ', (byte)'+', (byte)'-', (byte)'/', (byte)':', 0x00, 0xff];

    [Fact]
    public void BinParser_encodes_hello_as_the_golden_bytes()
    {
        Assert.Equal(Chunking.Ascii("000000005hello"), new BinParser(100).Encode("hello"u8));
    }

    [Fact]
    public void BinParser_encodes_an_empty_payload_as_nine_zeros()
    {
        Assert.Equal(Chunking.Ascii("000000000"), new BinParser(100).Encode([]));
    }

    [Fact]
    public void BinParser_decodes_the_golden_bytes_as_hello()
    {
        var frames = new List<string>();
        new BinParser(100).Decode(Chunking.Ascii("000000005hello"), f => frames.Add(System.Text.Encoding.ASCII.GetString(f.Span)));
        Assert.Equal(["hello"], frames);
    }

    [Fact]
    public void BinParser_rejects_a_non_digit_at_every_header_position_and_split_point()
    {
        foreach (var bad in NonDigits)
        {
            for (var position = 0; position < 9; position++)
            {
                var stream = Chunking.Ascii("000000005hello");
                stream[position] = bad;
                foreach (var split in Chunking.EveryTwoWaySplit(stream))
                {
                    var parser = new BinParser(100);
                    var badByteInFirstChunk = position < split[0].Length;
                    if (badByteInFirstChunk)
                    {
                        Assert.Throws<FramingException>(() => parser.Decode(split[0], _ => Assert.Fail("no frame expected")));
                    }
                    else
                    {
                        parser.Decode(split[0], _ => Assert.Fail("no frame expected"));
                        Assert.Throws<FramingException>(() => parser.Decode(split[1], _ => Assert.Fail("no frame expected")));
                    }

                    var poisoned = Assert.Throws<FramingException>(() => parser.Decode(Chunking.Ascii("000000001x"), _ => Assert.Fail("no frame expected")));
                    Assert.Contains("desynchronised", poisoned.Message, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public void BinParser_rejects_a_bad_header_byte_the_moment_it_arrives()
    {
        var parser = new BinParser(100);
        parser.Decode("00"u8, _ => Assert.Fail("no frame expected"));
        var error = Assert.Throws<FramingException>(() => parser.Decode("a"u8, _ => { }));
        Assert.Equal("BinParser header \"00a\" is not 9 decimal digits (byte 2 is 0x61)", error.Message);
    }

    [Fact]
    public void BinParser_names_the_whole_bad_header_in_its_message()
    {
        var error = Assert.Throws<FramingException>(() => new BinParser(100).Decode("00a000001x"u8, _ => { }));
        Assert.Equal("BinParser header \"00a000001\" is not 9 decimal digits (byte 2 is 0x61)", error.Message);
    }

    [Fact]
    public void BinParser_escapes_unprintable_header_bytes_in_its_message()
    {
        var error = Assert.Throws<FramingException>(() => new BinParser(100).Decode([(byte)'0', 0xff, (byte)'"'], _ => { }));
        Assert.Contains("\"0\\xff\\x22\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BinParser_delivers_the_frames_before_a_bad_header_in_the_same_chunk()
    {
        var frames = new List<byte[]>();
        Assert.Throws<FramingException>(() => new BinParser(100).Decode(Chunking.Ascii("000000002hi00a000001x"), f => frames.Add(f.ToArray())));
        Assert.Equal([Chunking.Ascii("hi")], frames);
    }

    [Fact]
    public void BinParser_reports_an_oversized_length_with_both_numbers()
    {
        var error = Assert.Throws<FramingException>(() => new BinParser(16 * 1024 * 1024).Decode("020000000"u8, _ => { }));
        Assert.Equal("BinParser frame length 20000000 exceeds the limit of 16777216 bytes", error.Message);
    }

    [Fact]
    public void BinParser_rejects_the_largest_nine_digit_length_above_its_limit_without_buffering()
    {
        var error = Assert.Throws<FramingException>(() => new BinParser(1000).Decode("999999999"u8, _ => { }));
        Assert.Contains("999999999", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BinParser_accepts_a_limit_of_nine_nines_and_rejects_more()
    {
        Assert.Equal(BinParser.MaxRepresentableFrameLength, new BinParser(999_999_999).MaxFrameLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BinParser(1_000_000_000));
    }
}
