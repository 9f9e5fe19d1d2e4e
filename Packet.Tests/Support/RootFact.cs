using Xunit;

namespace Packet.Tests.Support;

/// <summary>A fact that needs root, for <see cref="NetworkNamespace"/>: skipped, saying why, elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!NetworkNamespace.Available) Skip = "needs root and iproute2, for network namespaces (CI runs it)";
    }
}

/// <summary>A theory that needs root, for <see cref="NetworkNamespace"/>: skipped, saying why, elsewhere.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!NetworkNamespace.Available) Skip = "needs root and iproute2, for network namespaces (CI runs it)";
    }
}

/// <summary>
/// A fact that runs WorkerHosts as <c>nobody</c> (<c>packet.workers.user</c>): it needs root, and a build that
/// <c>nobody</c> can read (every folder above it open to others); skipped, saying why, elsewhere.
/// </summary>
public sealed class WorkerUserFactAttribute : FactAttribute
{
    public WorkerUserFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess || !OperatingSystem.IsLinux()) Skip = "needs root, to start WorkerHosts as another user (CI runs it)";
        else if (!OpenToOthers(AppContext.BaseDirectory)) Skip = $"the build at {AppContext.BaseDirectory} is in a folder other users cannot enter, so nobody could not run a WorkerHost from it";
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static bool OpenToOthers(string folder)
    {
        for (var at = new DirectoryInfo(folder); at is not null; at = at.Parent)
            if ((File.GetUnixFileMode(at.FullName) & UnixFileMode.OtherExecute) == 0) return false;
        return true;
    }
}
