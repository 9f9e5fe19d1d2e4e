using Microsoft.Extensions.Configuration;
using Packet.Actors.Hosting;
using Xunit;

namespace Packet.Tests.Hosting;

/// <summary>An <c>IConfiguration</c> tree read as HOCON, as <c>AddPacket(configuration)</c> reads its <c>Config</c> section.</summary>
public sealed class ConfigurationHoconTests
{
    private static Akka.Configuration.Config Read(Dictionary<string, string?> values) =>
        ConfigurationHocon.From(new ConfigurationBuilder().AddInMemoryCollection(values).Build());

    [Fact]
    public void Sections_are_objects_numbered_keys_are_lists_and_values_keep_their_meaning_as_HOCON_reads_them()
    {
        var config = Read(new()
        {
            ["packet:workers:max-waiting-bytes"] = "256 MiB",
            ["packet:workers:in-process"] = "on",
            ["packet:workers:max-in-flight"] = "32",
            ["packet:workers:allowed-types:0"] = "A, B",
            ["packet:workers:allowed-types:1"] = "C, D",
            ["packet:reactor:name"] = "quote\" back\\slash é {braces} ${not.a.substitution}",
        });

        Assert.Equal(256L * 1024 * 1024, config.GetByteSize("packet.workers.max-waiting-bytes"));
        Assert.True(config.GetBoolean("packet.workers.in-process"));
        Assert.Equal(32, config.GetInt("packet.workers.max-in-flight"));
        Assert.Equal(["A, B", "C, D"], config.GetStringList("packet.workers.allowed-types"));
        Assert.Equal("quote\" back\\slash é {braces} ${not.a.substitution}", config.GetString("packet.reactor.name"));
    }

    [Fact]
    public void Keys_with_dots_stay_one_key_and_an_empty_section_is_an_empty_config()
    {
        var config = Read(new() { ["akka:actor:serialization-bindings:System.String"] = "bytes" });

        Assert.Equal("bytes", config.GetConfig("akka.actor.serialization-bindings").AsEnumerable().Single().Value.GetString());
        Assert.True(Read(new()).IsEmpty);
    }
}
