using Packet.Actors.Workers;
using Xunit;

namespace Packet.Tests.Workers;

public sealed class LogThrottleTests
{
    [Fact]
    public void The_first_warning_is_due_at_once_and_those_within_the_interval_are_counted_not_logged()
    {
        var throttle = new LogThrottle();

        Assert.True(throttle.Due(out var first));
        Assert.Equal(0, first);
        for (var i = 0; i < 1000; i++) Assert.False(throttle.Due(out _));
    }
}
