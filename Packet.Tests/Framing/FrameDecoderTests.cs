using System.Buffers.Binary;
using Packet.Actors;
using Packet.Io.Configuration;
using Packet.Io.Framing;
using Xunit;

namespace Packet.Tests.Framing;

/// <summary>The contract every <see cref="IFrameDecoder"/> keeps, run against each implementation.</summary>
public sealed class FrameDecoderTests
{
    private const int Limit = 1200;

    private static readonly byte[][] Payloads =
    [
        Chunking.Ascii("hello"),
        [],
        Chunking.AllByteValues(),
        Enumerable.Range(0, 1100).Select(i => (byte)(i * 13)).ToArray(), // the buffer doubles across it
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

    /// <summary>packet.framing.max-frame-length from the embedded reference.conf: 16 MiB.</summary>
    private static int DefaultMaxFrameLength => TransportSettings.From(Reactor.DefaultConfig).MaxFrameLength;

    private static readonly Action<ReadOnlyMemory<byte>> NoFrame = _ => Assert.Fail("no frame expected");

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
    private static void WarmUp(string kind)
    {
        var decoder = Create(kind);
        foreach (var chunk in Chunking.OneByteAtATime(decoder.Encode(Chunking.Ascii("warm"))))
        {
            decoder.Decode(chunk, _ => { });
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void A_header_announcing_the_default_limit_then_a_few_bytes_allocates_only_a_few_hundred_bytes(string kind)
    {
        // Four bytes 00 FF FF FF must not make the server allocate 16 MiB: the buffer waits for the body.
        WarmUp(kind);
        var decoder = Create(kind, DefaultMaxFrameLength);
        var stream = Chunking.Concat([Header(kind, DefaultMaxFrameLength), Chunking.Ascii("a few bytes")]);

        var inOneChunk = Allocated(() => decoder.Decode(stream, NoFrame));
        var split = Create(kind, DefaultMaxFrameLength);
        var bytes = Chunking.OneByteAtATime(stream);
        var oneByteAtATime = Allocated(() =>
        {
            foreach (var chunk in bytes)
            {
                split.Decode(chunk, NoFrame);
            }
        });

        Assert.True(inOneChunk <= Slack, $"a maximal header and {stream.Length - Header(kind, 0).Length} bytes allocated {inOneChunk} bytes");
        Assert.True(oneByteAtATime <= Slack, $"a maximal header and a few bytes, one at a time, allocated {oneByteAtATime} bytes");
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void The_buffer_of_a_partial_frame_grows_with_the_bytes_received_not_with_the_announced_length(string kind)
    {
        WarmUp(kind);
        var decoder = Create(kind, DefaultMaxFrameLength);
        var piece = new byte[4096];
        long received = 0, allocated = Allocated(() => decoder.Decode(Header(kind, DefaultMaxFrameLength), NoFrame));
        while (received < 1024 * 1024)
        {
            allocated += Allocated(() => decoder.Decode(piece, NoFrame));
            received += piece.Length;

            // Doubling keeps the array within twice the bytes received, and all arrays made so far
            // within twice the last one.
            Assert.True(allocated <= (4 * received) + Slack, $"{allocated} bytes allocated after {received} bytes of the body");
        }
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void A_frame_that_arrives_whole_in_one_chunk_is_copied_once_into_an_array_of_its_size(string kind)
    {
        WarmUp(kind);
        var payload = Enumerable.Range(0, 1024 * 1024).Select(i => (byte)(i * 7)).ToArray();
        var decoder = Create(kind, DefaultMaxFrameLength);
        var frame = decoder.Encode(payload);
        var delivered = false;
        Action<ReadOnlyMemory<byte>> check = f => delivered = f.Span.SequenceEqual(payload);
        check(payload); // loaded before it is measured

        var allocated = Allocated(() => decoder.Decode(frame, check));

        Assert.True(delivered, "the frame was not delivered intact");
        Assert.True(allocated <= payload.Length + Slack, $"a {payload.Length}-byte frame in one chunk allocated {allocated} bytes");
    }

    [Theory]
    [MemberData(nameof(Decoders))]
    public void Decoder_yields_frames_larger_than_the_buffer_it_keeps_between_frames_for_random_chunk_sizes(string kind)
    {
        // Above 64 KiB the buffer is dropped once its frame is delivered, and grown again for the next.
        byte[][] payloads =
        [
            Enumerable.Range(0, 100_000).Select(i => (byte)(i * 3)).ToArray(),
            Enumerable.Range(0, 70_000).Select(i => (byte)(i * 5)).ToArray(),
            Chunking.Ascii("small"),
            Enumerable.Range(0, 200_001).Select(i => (byte)(i * 11)).ToArray(),
        ];
        var encoder = Create(kind, DefaultMaxFrameLength);
        var stream = Chunking.Concat(payloads.Select(p => encoder.Encode(p)));
        for (var seed = 0; seed < 10; seed++)
        {
            Assert.Equal(payloads, DecodeAll(Create(kind, DefaultMaxFrameLength), Chunking.RandomChunks(stream, seed, maxChunk: 5000)));
        }
    }
}
