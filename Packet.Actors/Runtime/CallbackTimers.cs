using Akka.Actor;

namespace Packet.Actors.Runtime;

/// <summary>
/// The user timers of one actor (a connection or the reactor): callbacks by timer id, scheduled
/// through the actor's own <see cref="ITimerScheduler"/>, so they die with the actor and a cancelled
/// timer's queued tick is dropped.
/// </summary>
internal sealed class CallbackTimers
{
    /// <summary>The tick the scheduler sends to the owning actor.</summary>
    internal sealed record Fired(long Id);

    private Dictionary<long, (TimerHandle Handle, Action Callback)>? _timers; // made by the first timer: most connections have none

    public void Start(ITimerScheduler scheduler, TimerHandle handle, Action callback)
    {
        (_timers ??= new())[handle.Id] = (handle, callback);
        if (handle.IsPeriodic)
            scheduler.StartPeriodicTimer(handle.Id, new Fired(handle.Id), handle.Interval);
        else
            scheduler.StartSingleTimer(handle.Id, new Fired(handle.Id), handle.Interval);
    }

    public void Cancel(ITimerScheduler scheduler, TimerHandle handle)
    {
        if (_timers is not null && _timers.Remove(handle.Id)) scheduler.Cancel(handle.Id);
    }

    /// <summary>The callback to run for a tick, or <see langword="null"/> if the timer was cancelled. A one-shot timer is forgotten here.</summary>
    public Action? Take(Fired fired)
    {
        if (_timers is null || !_timers.TryGetValue(fired.Id, out var timer)) return null;
        if (!timer.Handle.IsPeriodic) _timers.Remove(fired.Id);
        return timer.Callback;
    }

    public void Clear() => _timers?.Clear();
}
