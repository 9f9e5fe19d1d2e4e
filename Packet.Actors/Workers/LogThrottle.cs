namespace Packet.Actors.Workers;

/// <summary>
/// Keeps a warning that a peer can cause at will (a forged message, a refused registration) from
/// flooding the log: the first is logged at once, then at most one per <see cref="Interval"/>, telling
/// how many were left out since. One instance per actor, used on its thread only.
/// </summary>
internal sealed class LogThrottle
{
    /// <summary>The shortest time between two logged warnings.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private long? _loggedAt;
    private int _skipped;

    /// <summary>
    /// Whether to log this occurrence; if so, <paramref name="skipped"/> is how many since the last
    /// logged one were not.
    /// </summary>
    public bool Due(out int skipped)
    {
        var now = Environment.TickCount64;
        if (now - _loggedAt < (long)Interval.TotalMilliseconds) // false until the first is logged
        {
            _skipped++;
            skipped = 0;
            return false;
        }
        _loggedAt = now;
        skipped = _skipped;
        _skipped = 0;
        return true;
    }
}
