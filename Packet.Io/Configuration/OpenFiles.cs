namespace Packet.Io.Configuration;

/// <summary>
/// The process's open-file limit (<c>RLIMIT_NOFILE</c>, <c>ulimit -n</c>), which every socket counts
/// against. A .NET process that reaches it cannot even start a thread, and the runtime aborts it with
/// "Out of memory.". So a reactor never holds so many connections that the rest of the process is left
/// without files.
/// </summary>
internal static class OpenFiles
{
    private const string Limits = "/proc/self/limits";
    private const string Row = "Max open files";

    /// <summary>The soft limit on open files; <see langword="null"/> where there is none to read (not Linux) or it is unlimited.</summary>
    public static long? Limit()
    {
        try
        {
            if (!File.Exists(Limits)) return null;
            var row = File.ReadLines(Limits).FirstOrDefault(line => line.StartsWith(Row, StringComparison.Ordinal));
            var soft = row?[Row.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            return long.TryParse(soft, out var limit) ? limit : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The most connections a process allowed <paramref name="limit"/> open files can hold and still run:
    /// a quarter of the limit (at least 256 files, at most half) stays free for the runtime's own files
    /// and threads, WorkerHost pipes and logs.
    /// </summary>
    public static int ConnectionCap(long limit)
    {
        var kept = Math.Min(Math.Max(256, limit / 4), limit / 2);
        return (int)Math.Clamp(limit - kept, 0, int.MaxValue);
    }
}
