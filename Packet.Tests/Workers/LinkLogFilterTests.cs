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
}
