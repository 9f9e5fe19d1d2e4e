using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Packet.Actors.Workers.Protocol;

namespace Packet.Actors.Workers;

/// <summary>
/// One running <c>Packet.WorkerHost</c> process, started by the master. The start line (with the
/// secret) goes to its standard input, which then stays open: the host exits when it closes, so a
/// master that dies, even by <c>kill -9</c>, leaves no orphan. Its output lines are handed to the
/// master's log, and its exit is reported at once.
/// </summary>
internal sealed class WorkerHostProcess : IWorkerHost
{
    private readonly Process _process;

    private WorkerHostProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public int? ProcessId => _process.Id;

    /// <summary>
    /// Starts a host, as <paramref name="user"/> when given: <paramref name="onLink"/> gets its link address, from the first
    /// <see cref="HostStart.LinkLine"/> of its output, <paramref name="onLine"/> every other line, and <paramref name="onExit"/> its exit code.
    /// </summary>
    public static WorkerHostProcess Start(string hostDll, WorkerUser? user, HostStart start, Action<int, Address> onLink, Action<int, string, bool> onLine, Action<int, int> onExit)
    {
        if (!File.Exists(hostDll))
            throw new FileNotFoundException($"the WorkerHost program is not at {hostDll}; reference the PacketAkka.Actors package (or the Packet.WorkerHost project) or set packet.workers.host", hostDll);
        string[] command = [DotnetPath(), "exec", hostDll];
        var info = new ProcessStartInfo(user?.Setpriv ?? command[0], user?.Wrap(command[0], command[1..]) ?? command[1..])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(start.AssemblyPath)!,
        };
        if (user is not null) info.Environment["HOME"] = user.Home;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var id = 0; // set before output is read: Id throws once the process is disposed, and output can come after that
        var linked = 0;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            if (line.StartsWith(HostStart.LinkLine, StringComparison.Ordinal) && Interlocked.Exchange(ref linked, 1) == 0 && LinkAddress(line) is { } address)
                onLink(id, address);
            else
                onLine(id, line, false);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) onLine(id, line, true); };
        process.Exited += (_, _) => onExit(process.Id, SafeExitCode(process));
        process.Start();
        id = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.WriteLine(start.ToLine());
        process.StandardInput.Flush();
        return new WorkerHostProcess(process);
    }

    /// <summary>The address of a <see cref="HostStart.LinkLine"/>, or <see langword="null"/> if it holds none.</summary>
    private static Address? LinkAddress(string line)
    {
        try
        {
            return Address.Parse(line[HostStart.LinkLine.Length..]);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Closes the host's standard input, as a dying master's kernel does too: the host exits on its own.</summary>
    public void End()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Kill(); // the pipe is gone already: nothing left to ask
        }
    }

    /// <summary>Ends the process at once (SIGKILL); its exit is reported as usual.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private static int SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    /// <summary>
    /// Why this program cannot start WorkerHost processes, or <see langword="null"/>. A WorkerHost is a
    /// framework-dependent program that loads PacketAkka and the worker's assembly from files beside this
    /// program: a single-file program has no such files, and a self-contained one brings no shared runtime
    /// for it (with the program's own runtime beside it, even an installed dotnet fails to load the worker).
    /// </summary>
    internal static string? Unsupported()
    {
        if (typeof(WorkerHostProcess).Assembly.Location.Length == 0) return "a single-file program";
        var runtime = Path.TrimEndingDirectorySeparator(Path.GetFullPath(RuntimeEnvironment.GetRuntimeDirectory()));
        var program = Path.TrimEndingDirectorySeparator(Path.GetFullPath(AppContext.BaseDirectory));
        return runtime == program ? "a self-contained program" : null;
    }

    /// <summary>The dotnet host that runs this process: <c>DOTNET_HOST_PATH</c>, else the one the runtime came from.</summary>
    private static string DotnetPath()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var dotnet = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(dotnet) ? dotnet : "dotnet";
    }
}
