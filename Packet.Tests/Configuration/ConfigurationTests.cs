using Akka.Configuration;
using Akka.Configuration.Hocon;
using Packet.Actors;
using Packet.Actors.Cluster;
using Packet.Actors.Workers;
using Packet.Io.Configuration;
using Xunit;

namespace Packet.Tests.Configuration;

public sealed class ConfigurationTests
{
    /// <summary>
    /// Every leaf key under <c>packet</c> in the embedded reference.conf files, except the raw Akka
    /// settings under <c>packet.workers.remote-config</c>, which Akka itself validates.
    /// </summary>
    public static TheoryData<string> DocumentedKeys()
    {
        var keys = new TheoryData<string>();
        foreach (var key in Leaves(Reactor.DefaultConfig.GetConfig("packet").Root, "packet"))
            if (!key.StartsWith(WorkerSettings.RemoteConfigPath + ".", StringComparison.Ordinal)) keys.Add(key);
        return keys;
    }

    private static IEnumerable<string> Leaves(HoconValue value, string path) =>
        value.IsObject()
            ? value.GetObject().Items.SelectMany(item => Leaves(item.Value, $"{path}.{item.Key}"))
            : [path];

    private static void ReadAll(Config config)
    {
        TransportSettings.From(config);
        ReactorSettings.From(config);
        WorkerSettings.From(config);
        ClusterSettings.From(config);
    }

    [Fact]
    public void The_embedded_defaults_load_into_typed_settings()
    {
        var transport = TransportSettings.From(Reactor.DefaultConfig);
        var reactor = ReactorSettings.From(Reactor.DefaultConfig);

        Assert.Equal(1024, transport.Backlog);
        Assert.Equal(1024 * 1024, transport.HighWaterMark);
        Assert.Equal(TimeSpan.FromMinutes(5), transport.InactivityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), transport.ConnectTimeout);
        Assert.Equal("packet", reactor.Name);
        Assert.True(DocumentedKeys().Count >= 25, $"only {DocumentedKeys().Count} documented keys");
    }

    [Theory]
    [InlineData(300, 150)]
    [InlineData(512, 256)]
    [InlineData(1024, 768)]
    [InlineData(1_048_576, 786_432)]
    public void The_connection_cap_keeps_a_quarter_of_the_open_file_limit_free_at_least_256_files_and_at_most_half(long limit, int cap)
    {
        Assert.Equal(cap, OpenFiles.ConnectionCap(limit));
        Assert.True(OpenFiles.Limit() is null or > 0);
    }

    [Theory]
    [MemberData(nameof(DocumentedKeys))]
    public void Every_documented_key_is_read_and_a_bad_value_is_named(string key)
    {
        var bad = ConfigurationFactory.ParseString($"{key} = \"not a value!\"").WithFallback(Reactor.DefaultConfig);

        var error = Assert.Throws<ConfigurationException>(() => ReadAll(bad));

        Assert.Contains($"'{key}'", error.Message);
    }

    [Fact]
    public void Inconsistent_water_marks_are_refused()
    {
        Assert.Contains("low-water-mark <= high-water-mark", TransportRefusal("packet.tcp.backpressure.low-water-mark = 2 MiB"));
    }

    [Theory]
    [InlineData("sockets.read-size", "2 KiB")]
    [InlineData("sockets.read-size", "2 MiB")]
    public void A_pooled_block_size_out_of_range_is_refused(string key, string size)
    {
        Assert.Contains($"'packet.tcp.{key}' must be between 4 KiB and 1 MiB", TransportRefusal($"packet.tcp.{key} = {size}"));
    }

    [Fact]
    public void An_unknown_transport_is_refused_with_the_names_it_may_take()
    {
        Assert.Contains("must be \"akka-io\" or \"sockets\", not \"epoll\"", TransportRefusal("packet.tcp.transport = epoll"));
    }

    [Fact]
    public void The_retired_kestrel_transport_is_refused_with_what_to_use_instead()
    {
        Assert.Contains("the kestrel transport was retired; use \"sockets\"", TransportRefusal("packet.tcp.transport = kestrel"));
    }

    /// <summary>The message the transport settings are refused with when <paramref name="hocon"/> overrides the defaults.</summary>
    private static string TransportRefusal(string hocon) =>
        Assert.Throws<ConfigurationException>(() => TransportSettings.From(ConfigurationFactory.ParseString(hocon).WithFallback(Reactor.DefaultConfig))).Message;

    [Theory]
    [InlineData("echo-server.conf")]
    [InlineData("http-client.conf")]
    public void The_example_overrides_in_hocon_load(string file)
    {
        var config = PacketConfig.FromFile(Path.Combine(RepositoryRoot(), "hocon", file)).WithFallback(Reactor.DefaultConfig);

        ReadAll(config);
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PacketAkka.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("the tests run outside the repository");
    }

    /// <summary>A sample's program, built in the tests' own configuration (the test project references every sample it runs).</summary>
    internal static string SampleDll(string sample)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0/
        return Path.Combine(RepositoryRoot(), "samples", sample, "bin", configuration, "net10.0", $"{sample}.dll");
    }

    /// <summary>The eval sample's worker root, as its build publishes it beside the program.</summary>
    internal static string EvalWorkers() => Path.Combine(Path.GetDirectoryName(SampleDll("EvalServer"))!, "worker");
}
