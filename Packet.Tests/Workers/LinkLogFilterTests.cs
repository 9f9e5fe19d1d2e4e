using Akka.Event;
using Packet.Actors.Workers.Protocol;
using Xunit;

namespace Packet.Tests.Workers;

public sealed class LinkLogFilterTests
{
    [Fact]
    public void Of_a_burst_of_link_socket_errors_the_first_is_kept_and_the_rest_dropped_and_other_sources_are_left_alone()
    {
        var evaluator = new LogFilterEvaluator([new LinkLogFilter()]);
        Error Event(string source) => new(null, source, typeof(LinkLogFilterTests), "TLS handshake failed");

        var first = Event("TcpServerHandler (akka://master)");
        Assert.True(evaluator.ShouldTryKeepMessage(first, out var printed));
        Assert.StartsWith("[ERROR]", printed); // kept whole: level, time and source too
        Assert.True(evaluator.ShouldTryKeepMessage(first, out _)); // asked again about the same event: the same answer
        for (var i = 0; i < 100; i++) Assert.False(evaluator.ShouldTryKeepMessage(Event("TcpServerHandler (akka://master)"), out _));
        Assert.False(evaluator.ShouldTryKeepMessage(Event("TcpClientHandler (akka://master)"), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(Event("akka://master/user/workers"), out _));
    }

    [Fact]
    public void The_links_info_lines_are_dropped_and_its_warnings_and_debug_lines_and_other_info_lines_kept()
    {
        var evaluator = new LogFilterEvaluator([new LinkLogFilter()]);

        Assert.False(evaluator.ShouldTryKeepMessage(new Info("remoting (akka://master)", typeof(DummyClassForStringSources), "Starting remoting"), out _));
        Assert.False(evaluator.ShouldTryKeepMessage(new Info("remoting-terminator", typeof(DummyClassForStringSources), "Remoting shut down."), out _));
        Assert.False(evaluator.ShouldTryKeepMessage(new Info("akka://master/system/endpointManager/x", typeof(Akka.Remote.RemoteTransport), "Removing receive buffers"), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(new Warning("remoting (akka://master)", typeof(Akka.Remote.RemoteTransport), "Association failed"), out _));
        Assert.False(evaluator.ShouldTryKeepMessage(new Warning("TcpClientHandler (akka://worker)", typeof(DummyClassForStringSources),
            "Unable to REMOVE channel [[::ffff:127.0.0.1]:59328->[::ffff:127.0.0.1]:33279](Id=55cfd8a1) from connection group. May not shut down cleanly."), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(new Debug("remoting (akka://master)", typeof(Akka.Remote.RemoteTransport), "detail"), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(new Info("akka://master/user/workers", typeof(LinkLogFilterTests), "worker up"), out _));
    }

    [Fact]
    public void Of_the_warnings_a_dead_peer_causes_at_every_retry_the_first_is_kept_and_the_rest_dropped()
    {
        var evaluator = new LogFilterEvaluator([new LinkLogFilter()]);
        const string writer = "akka.ssl.tcp://packet-cluster@127.0.0.1:1/system/endpointManager/reliableEndpointWriter-akka.ssl.tcp%3A%2F%2Fpacket-cluster%40127.0.0.1%3A2-1";

        Assert.True(evaluator.ShouldTryKeepMessage(new Warning(writer, typeof(Akka.Remote.RemoteTransport), "Association with remote system has failed"), out _));
        Assert.False(evaluator.ShouldTryKeepMessage(new Error(null, writer + "/endpointWriter", typeof(Akka.Remote.RemoteTransport), "Disassociated"), out _));
        for (var i = 0; i < 10; i++)
            Assert.False(evaluator.ShouldTryKeepMessage(new Warning("remoting (akka://packet-cluster)", typeof(Akka.Remote.RemoteTransport), "Tried to associate with unreachable remote address"), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(new Debug(writer, typeof(Akka.Remote.RemoteTransport), "detail"), out _));
        Assert.True(evaluator.ShouldTryKeepMessage(new Warning("akka.ssl.tcp://packet-cluster@127.0.0.1:1/system/cluster/core/daemon", typeof(LinkLogFilterTests), "Marking node(s) as UNREACHABLE"), out _));
    }
}
