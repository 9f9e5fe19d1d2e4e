using System.Buffers.Binary;
using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Framing;

/// <summary>The contract every <see cref="IFrameDecoder"/> keeps, run against each implementation.</summary>
public sealed class FrameDecoderTests
{
    private const int Limit = 300;

    private static readonly byte[][] Payloads =
    [
        Chunking.Ascii("hello"),
        [],
        Chunking.AllByteValues(),
        Chunking.Ascii("x"),
        Enumerable.Range(0, 37).Select(i => (byte)(i * 7)).ToArray(),
        [],
    ];

    public static TheoryData<string> Decoders => new() { nameof(BinParser), nameof(LengthPrefixedFramer) };

    private static IFrameDecoder Create(string kind, int maxFrameLength = Limit) => kind switch
    {
        nameof(BinParser) => new BinParser(maxFrameLength),
        nameof(LengthPrefixedFramer) => new LengthPrefixedFramer(maxFrameLength),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown decoder"),
    };

    // The raw header, built by hand so that decoding is not only checked against Encode.
    private static byte[] Header(string kind, long length)
    {
        if (kind == nameof(BinParser))
        {
            return Chunking.Ascii(length.ToString("D9", System.Globalization.CultureInfo.InvariantCulture));
        }

        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        return header;
    }

    private static byte[] Stream(string kind) =>
        Chunking.Concat(Payloads.SelectMany(p => new[] { Header(kind, p.Length), p }));

    private static List<byte[]> DecodeAll(IFrameDecoder decoder, IEnumerable<byte[]> chunks)
    {
        var frames = new List<byte[]>();
        foreach (var chunk in chunks)
        {
            decoder.Decode(chunk, frame => frames.Add(frame.ToArray()));
        }

        return frames;
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_yields_each_frame_once_at_every_split_point(string kind)
    {
        var stream = Stream(kind);
        foreach (var split in Chunking.EveryTwoWaySplit(stream))
        {
            Assert.Equal(Payloads, DecodeAll(Create(kind), split));
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_yields_each_frame_once_when_fed_one_byte_at_a_time(string kind)
    {
        Assert.Equal(Payloads, DecodeAll(Create(kind), Chunking.OneByteAtATime(Stream(kind))));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_yields_each_frame_once_for_random_chunk_sizes(string kind)
    {
        var stream = Stream(kind);
        for (var seed = 0; seed < 100; seed++)
        {
            Assert.Equal(Payloads, DecodeAll(Create(kind), Chunking.RandomChunks(stream, seed)));
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_yields_frames_in_order_from_one_chunk_holding_the_whole_stream(string kind)
    {
        Assert.Equal(Payloads, DecodeAll(Create(kind), [Stream(kind)]));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Encode_then_Decode_round_trips_every_payload(string kind)
    {
        var encoder = Create(kind);
        var atLimit = Enumerable.Range(0, Limit).Select(i => (byte)(i * 31)).ToArray();
        foreach (var payload in Payloads.Append(atLimit))
        {
            var frame = encoder.Encode(payload);
            Assert.Equal(Header(kind, payload.Length), frame[..^payload.Length]);
            Assert.Equal([payload], DecodeAll(Create(kind), [frame]));
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Encode_rejects_a_payload_over_the_maximum_length(string kind)
    {
        var error = Assert.Throws<ArgumentException>(() => Create(kind, maxFrameLength: 16).Encode(new byte[17]));
        Assert.Contains("payload of 17 bytes exceeds", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_accepts_a_frame_of_exactly_the_maximum_length(string kind)
    {
        var payload = Enumerable.Repeat((byte)'z', 16).ToArray();
        var stream = Chunking.Concat([Header(kind, 16), payload]);
        Assert.Equal([payload], DecodeAll(Create(kind, maxFrameLength: 16), [stream]));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_rejects_an_oversized_frame_from_the_header_alone(string kind)
    {
        var header = Header(kind, 17);
        var decoder = Create(kind, maxFrameLength: 16);
        for (var i = 0; i < header.Length - 1; i++)
        {
            decoder.Decode(header.AsSpan(i, 1), _ => Assert.Fail("no frame expected"));
        }

        var error = Assert.Throws<FramingException>(() => decoder.Decode(header.AsSpan(^1), _ => { }));
        Assert.Contains("frame length 17 exceeds the limit of 16 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_rejects_an_oversized_frame_whose_header_arrives_in_one_chunk(string kind)
    {
        Assert.Throws<FramingException>(() => Create(kind, maxFrameLength: 16).Decode(Header(kind, 17), _ => { }));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_delivers_the_frames_before_an_oversized_one_in_the_same_chunk(string kind)
    {
        var stream = Chunking.Concat([Header(kind, 2), Chunking.Ascii("ok"), Header(kind, 17)]);
        var frames = new List<byte[]>();
        Assert.Throws<FramingException>(() => Create(kind, maxFrameLength: 16).Decode(stream, f => frames.Add(f.ToArray())));
        Assert.Equal([Chunking.Ascii("ok")], frames);
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_stays_poisoned_after_an_oversized_frame(string kind)
    {
        var decoder = Create(kind, maxFrameLength: 16);
        Assert.Throws<FramingException>(() => decoder.Decode(Header(kind, 17), _ => { }));

        var valid = decoder.Encode(Chunking.Ascii("fine"));
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var error = Assert.Throws<FramingException>(() => decoder.Decode(valid, _ => Assert.Fail("no frame expected")));
            Assert.Contains("desynchronised", error.Message, StringComparison.Ordinal);
            Assert.IsType<FramingException>(error.InnerException);
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_is_poisoned_when_the_frame_callback_throws(string kind)
    {
        var decoder = Create(kind);
        var stream = Chunking.Concat([decoder.Encode(Chunking.Ascii("a")), decoder.Encode(Chunking.Ascii("b"))]);
        Assert.Throws<TimeoutException>(() => decoder.Decode(stream, _ => throw new TimeoutException("handler failed")));

        var error = Assert.Throws<FramingException>(() => decoder.Decode(stream, _ => { }));
        Assert.Contains("desynchronised", error.Message, StringComparison.Ordinal);
        Assert.IsType<TimeoutException>(error.InnerException);
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_refuses_to_be_called_from_its_own_callback(string kind)
    {
        var decoder = Create(kind);
        var frame = decoder.Encode(Chunking.Ascii("a"));
        Assert.Throws<InvalidOperationException>(() => decoder.Decode(frame, _ => decoder.Decode(frame, _ => { })));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_rejects_a_negative_limit(string kind)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(kind, maxFrameLength: -1));
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_exposes_its_maximum_frame_length(string kind)
    {
        Assert.Equal(1234, Create(kind, maxFrameLength: 1234).MaxFrameLength);
    }
}
