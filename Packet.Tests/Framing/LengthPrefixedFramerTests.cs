using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Framing;

public sealed class LengthPrefixedFramerTests
{
    [Fact]
    public void LengthPrefixedFramer_encodes_the_length_as_four_big_endian_bytes()
    {
        Assert.Equal([0, 0, 0, 3, 1, 2, 3], new LengthPrefixedFramer(100).Encode([1, 2, 3]));
        Assert.Equal([0, 0, 1, 2], new LengthPrefixedFramer(1000).Encode(new byte[258])[..4]);
    }

    [Fact]
    public void LengthPrefixedFramer_reads_the_length_as_unsigned_big_endian()
    {
        var frames = new List<int>();
        new LengthPrefixedFramer(1000).Decode([0, 0, 1, 0, .. new byte[256]], f => frames.Add(f.Length));
        Assert.Equal([256], frames);

        var error = Assert.Throws<FramingException>(() => new LengthPrefixedFramer(1000).Decode([0xff, 0xff, 0xff, 0xff], _ => { }));
        Assert.Equal("LengthPrefixedFramer frame length 4294967295 exceeds the limit of 1000 bytes", error.Message);
    }

    [Fact]
    public void LengthPrefixedFramer_rejects_a_limit_that_cannot_fit_in_an_array()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LengthPrefixedFramer(int.MaxValue));
    }
}
