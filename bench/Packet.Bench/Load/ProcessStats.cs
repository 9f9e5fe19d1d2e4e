namespace Packet.Bench.Load;

/// <summary>CPU time and memory of a process, read from /proc.</summary>
public static class ProcessStats
{
    public static long RssKiB(int pid) => StatusField(pid, "VmRSS:");

    public static long PeakRssKiB(int pid) => StatusField(pid, "VmHWM:");

    /// <summary>User plus system CPU seconds the process has used.</summary>
    public static double CpuSeconds(int pid)
    {
        var fields = StatFields(pid);
        return fields is null ? 0 : (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime in clock ticks (USER_HZ = 100)
    }

    /// <summary>
    /// <see cref="CpuSeconds"/> of the process and of every process below it that is alive now (a
    /// WorkerHost, a floor's child), so that a server that hands its work to a child is charged for it.
    /// </summary>
    public static double TreeCpuSeconds(int pid) => Descendants(pid).Prepend(pid).Sum(CpuSeconds);

    /// <summary>Every live process whose parent chain leads to <paramref name="pid"/>.</summary>
    public static IEnumerable<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(directory), out var child) && StatFields(child) is { } fields)
                parents[child] = int.Parse(fields[1]);
        var below = new List<int>();
        var frontier = new Queue<int>([pid]);
        while (frontier.TryDequeue(out var parent))
            foreach (var (child, _) in parents.Where(p => p.Value == parent))
            {
                below.Add(child);
                frontier.Enqueue(child);
            }
        return below;
    }

    /// <summary>The fields of /proc/PID/stat after the command name (state is [0], ppid [1], utime [11]), or null once the process is gone.</summary>
    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return null;
        }
    }

    private static long StatusField(int pid, string name) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim().Split(' ')[0]);
}
