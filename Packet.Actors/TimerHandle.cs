namespace Packet.Actors;

/// <summary>
/// A timer made by <c>AddTimer</c> or <c>AddPeriodicTimer</c> on a <see cref="Connection"/> or a
/// <see cref="Reactor"/>. Pass it to the matching <c>CancelTimer</c>, or call <see cref="Cancel"/>.
/// </summary>
public sealed class TimerHandle
{
    private readonly Action<TimerHandle> _cancel;

    internal TimerHandle(long id, TimeSpan interval, bool periodic, Action<TimerHandle> cancel)
    {
        Id = id;
        Interval = interval;
        IsPeriodic = periodic;
        _cancel = cancel;
    }

    internal long Id { get; }

    /// <summary>The delay of a one-shot timer, or the period of a periodic one.</summary>
    public TimeSpan Interval { get; }

    /// <summary>True for <c>AddPeriodicTimer</c>, false for <c>AddTimer</c>.</summary>
    public bool IsPeriodic { get; }

    /// <summary>
    /// Cancels the timer. Safe from any thread and from inside the timer's own callback; a callback
    /// that has not started yet will not run. Cancelling twice, or after a one-shot fired, does nothing.
    /// </summary>
    public void Cancel() => _cancel(this);
}
