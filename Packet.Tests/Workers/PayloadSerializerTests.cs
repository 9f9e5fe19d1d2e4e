using Packet.Actors.Workers.Protocol;
using Xunit;

namespace Packet.Tests.Workers;

public sealed class PayloadSerializerTests
{
    private readonly PayloadSerializer _payloads = new([typeof(Job)], maxPayload: 1024);

    public static TheoryData<object?> Payloads => new()
    {
        null, "", "snow ☃ man", Array.Empty<byte>(), new byte[] { 0, 1, 255 }, 42, 2.5, new Job("me", 1),
        new List<string> { "a", "b" }, new Dictionary<string, int> { ["x"] = 1 },
        true, 'λ', (byte)7, (sbyte)-7, (short)-300, (ushort)60000, 7u, -7L, ulong.MaxValue, 1.5f, double.NaN, 79.99m,
        new DateTime(2026, 11, 26, 14, 0, 0, DateTimeKind.Utc), new DateTimeOffset(2026, 11, 26, 14, 0, 0, TimeSpan.FromHours(-5)),
        TimeSpan.FromMilliseconds(1234.5), Guid.Parse("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
        new[] { 1, 2, 3 }, new string?[] { "a", null, "" }, new List<byte[]> { new byte[] { 1 }, Array.Empty<byte>() },
        new HashSet<Guid> { Guid.Empty }, new Dictionary<string, List<double>> { ["pi"] = [3.14], ["none"] = [] },
        new KeyValuePair<string, int>("k", 1), new List<int[]?> { null, new[] { 5 } }, new List<Job> { new("me", 2) },
    };

    /// <summary>Payloads of built-in types only; a reader with an empty allow-list must take every one.</summary>
    public static TheoryData<object> BuiltInPayloads => new()
    {
        42, 79.99m, new[] { 1, 2, 3 }, new Dictionary<string, List<double>> { ["pi"] = [3.14] }, new HashSet<char> { 'x' },
        new List<KeyValuePair<string, Guid>> { new("id", Guid.Empty) },
    };

    [Theory]
    [MemberData(nameof(BuiltInPayloads))]
    public void Built_in_payloads_travel_without_Hyperion_and_read_with_an_empty_allow_list(object payload)
    {
        var strict = new PayloadSerializer([], maxPayload: 1024);

        var bytes = strict.Serialize(payload);

        Assert.Equal(4, bytes[0]); // ValueCodec's tag, not Hyperion's (3)
        Assert.Equal(payload, strict.Deserialize(bytes));
    }

    [Fact]
    public void A_Hyperion_payload_is_refused_when_the_allow_list_names_no_type()
    {
        // A hostile peer could forge Hyperion's length fields; with nothing to read that needs Hyperion, none is read.
        var strict = new PayloadSerializer([], maxPayload: 1024);
        var bytes = _payloads.Serialize(new Job("me", 1));

        var error = Assert.Throws<PayloadException>(() => strict.Deserialize(bytes));

        Assert.Contains("read only when packet.workers.allowed-types names a type", error.Message);
    }

    [Fact]
    public void A_forged_count_is_refused_before_anything_is_allocated()
    {
        // int[] whose count claims 2^28 - 1 elements, followed by four bytes.
        byte[] forged = [4, 32, 7, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4];
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<PayloadException>(() => _payloads.Deserialize(forged));

        Assert.Contains("does not fit in the 4 bytes left", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64 * 1024);
    }

    [Fact]
    public void A_reader_makes_at_most_its_limit_of_distinct_collection_types()
    {
        // Each payload names a new nesting of arrays and lists over one of the 18 scalars, as a null value;
        // past the limit, new ones are refused.
        var reader = new PayloadSerializer([], maxPayload: 1024);
        var refused = 0;
        for (var shape = 0; shape < 18 * 64 && refused == 0; shape++)
        {
            var descriptor = new List<byte>();
            for (var bits = shape / 18 + 2; bits > 1; bits >>= 1) descriptor.Add(bits % 2 == 0 ? (byte)32 : (byte)33); // array or List, by bit
            descriptor.Add((byte)(shape % 18 + 1));
            try
            {
                Assert.Null(reader.Deserialize(new byte[] { 4 }.Concat(descriptor).Append((byte)0).ToArray()));
            }
            catch (PayloadException e) when (e.Message.Contains($"more than {ValueCodec.MaxTypes} distinct collection types"))
            {
                refused++;
            }
        }

        Assert.Equal(1, refused);
    }

    [Theory]
    [MemberData(nameof(Payloads))]
    public void Each_kind_of_payload_comes_back_equal(object? payload)
    {
        var back = _payloads.Deserialize(_payloads.Serialize(payload));

        Assert.Equal(payload, back);
        Assert.Equal(payload?.GetType(), back?.GetType());
    }

    [Fact]
    public void Bytes_that_name_no_encoding_are_refused_with_a_clear_error()
    {
        var error = Assert.Throws<PayloadException>(() => _payloads.Deserialize(new byte[] { 9, 1, 2 }));

        Assert.Contains("names no encoding", error.Message);
    }

    [Fact]
    public void A_string_over_the_limit_fails_before_it_is_encoded()
    {
        var error = Assert.Throws<PayloadException>(() => _payloads.Serialize(new string('x', 2000)));

        Assert.Contains("exceeds packet.workers.max-payload (1024 bytes)", error.Message);
    }

    [Fact]
    public void A_type_the_reader_does_not_allow_is_refused_even_inside_a_collection()
    {
        var strict = new PayloadSerializer([typeof(Version)], maxPayload: 1024);
        var bytes = _payloads.Serialize(new List<Job> { new("me", 1) });

        var error = Assert.Throws<PayloadException>(() => strict.Deserialize(bytes));

        Assert.Contains("Packet.Tests.Workers.Job", error.Message);
    }
}
