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
    };

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
        var strict = new PayloadSerializer([], maxPayload: 1024);
        var bytes = _payloads.Serialize(new List<Job> { new("me", 1) });

        var error = Assert.Throws<PayloadException>(() => strict.Deserialize(bytes));

        Assert.Contains("Packet.Tests.Workers.Job", error.Message);
    }
}
