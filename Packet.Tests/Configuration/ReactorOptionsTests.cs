using Akka.Configuration;
using Microsoft.Extensions.Logging;
using Packet.Actors;
using Packet.Tests.Support;
using Xunit;

namespace Packet.Tests.Configuration;

public sealed class ReactorOptionsTests
{
    [Fact]
    public void Options_left_unset_make_an_empty_configuration_and_keep_every_default()
    {
        Assert.True(new ReactorOptions().ToConfig().IsEmpty);
    }

    [Fact]
    public void Each_option_becomes_its_setting_with_any_characters_kept_as_they_are()
    {
        const string root = "/tmp/a \"b\" \\c +d ${e}";
        var config = new ReactorOptions
        {
            Transport = ReactorTransport.Sockets,
            LogLevel = LogLevel.Warning,
            Name = "options",
            MaxConnections = 5,
            InactivityTimeout = TimeSpan.FromSeconds(90),
            WorkersRoot = root,
            WorkersEnabled = true,
        }.ToConfig();

        Assert.Equal("sockets", config.GetString("packet.tcp.transport"));
        Assert.Equal("WARNING", config.GetString("akka.loglevel"));
        Assert.Equal("options", config.GetString("packet.reactor.name"));
        Assert.Equal(5, config.GetInt("packet.tcp.max-connections"));
        Assert.Equal(TimeSpan.FromSeconds(90), config.GetTimeSpan("packet.tcp.inactivity-timeout"));
        Assert.Equal(root, config.GetString("packet.workers.root"));
        Assert.Equal("on", config.GetString("packet.workers.enabled"));
        Assert.Equal("off", new ReactorOptions { InactivityTimeout = Timeout.InfiniteTimeSpan }.ToConfig().GetString("packet.tcp.inactivity-timeout"));
        Assert.Equal("DEBUG", new ReactorOptions { LogLevel = LogLevel.Trace }.ToConfig().GetString("akka.loglevel"));
        Assert.Equal("OFF", new ReactorOptions { LogLevel = LogLevel.None }.ToConfig().GetString("akka.loglevel"));
    }

    [Fact]
    public void The_options_override_their_Config_which_keeps_everything_else()
    {
        var config = new ReactorOptions
        {
            Transport = ReactorTransport.AkkaIo,
            Config = ConfigurationFactory.ParseString("packet.tcp { transport = sockets, backlog = 7 }"),
        }.ToConfig();

        Assert.Equal("akka-io", config.GetString("packet.tcp.transport"));
        Assert.Equal(7, config.GetInt("packet.tcp.backlog"));
    }

    [Fact]
    public async Task A_reactor_started_from_options_serves_on_the_chosen_transport()
    {
        await using var reactor = Reactor.Start(new ReactorOptions { Transport = ReactorTransport.Sockets, Name = "from-options", LogLevel = LogLevel.Warning }.ToConfig());
        var server = await reactor.StartServerAsync(Loopback.Host, 0, () => new Echo());

        Assert.Equal("from-options", reactor.System.Name);
        Assert.Equal("sockets", reactor.System.Settings.Config.GetString("packet.tcp.transport"));
        Assert.Equal(Akka.Event.LogLevel.WarningLevel, reactor.System.EventStream.LogLevel);
        Assert.Equal("ping\n", await Loopback.LineExchangeAsync(server.LocalEndPoint.Port, "ping"));
    }

    [Fact]
    public void A_bad_value_is_refused_at_start_naming_its_setting()
    {
        var error = Assert.Throws<ConfigurationException>(() => Reactor.Start(new ReactorOptions { MaxConnections = 0 }.ToConfig()));

        Assert.Contains("'packet.tcp.max-connections' must be at least 1", error.Message);
    }

    private sealed class Echo : Connection
    {
        protected override void ReceiveData(ReadOnlyMemory<byte> data) => SendData(data.Span);
    }
}
