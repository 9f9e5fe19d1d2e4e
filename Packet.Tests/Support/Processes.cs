using System.Runtime.InteropServices;

namespace Packet.Tests.Support;

/// <summary>What /proc tells of a process the tests started, and signals to it.</summary>
public static class Processes
{
    /// <summary>The signals a terminal's Ctrl-C and a service manager's stop send, and the two that freeze a process and let it run again.</summary>
    public const int SIGINT = 2, SIGTERM = 15, SIGCONT = 18, SIGSTOP = 19;

    /// <summary>Sends <paramref name="signal"/> to process <paramref name="pid"/>, as <c>kill -SIGNAL PID</c> does.</summary>
    public static void Signal(int pid, int signal)
    {
        if (Kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>The TCP ports process <paramref name="pid"/> listens on, read from /proc.</summary>
    public static int[] ListeningPorts(int pid)
    {
        var sockets = Directory.GetFiles($"/proc/{pid}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(target => target![8..^1])
            .ToHashSet();
        return new[] { $"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(File.ReadLines)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length > 9 && fields[3] == "0A" && sockets.Contains(fields[9]))
            .Select(fields => Convert.ToInt32(fields[1][(fields[1].LastIndexOf(':') + 1)..], 16))
            .Distinct()
            .ToArray();
    }

    /// <summary>The direct children of <paramref name="parent"/>, read from /proc.</summary>
    public static int[] Children(int parent) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ParentOf(pid) == parent)
            .ToArray();

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
