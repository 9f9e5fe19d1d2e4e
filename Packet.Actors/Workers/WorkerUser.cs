using System.Runtime.InteropServices;
using Akka.Configuration;

namespace Packet.Actors.Workers;

/// <summary>
/// The Unix user every WorkerHost runs as (<c>packet.workers.user</c>), instead of the master's: worker code
/// then cannot read what only the master's user may, such as the cluster's credentials. The master starts
/// each WorkerHost through util-linux's <c>setpriv</c>, which takes the user's ids and groups, forbids any
/// gain of privileges (<c>--no-new-privs</c>), and then becomes the WorkerHost: its process id is the host's.
/// </summary>
/// <param name="Name">The user's name, as given.</param>
/// <param name="Uid">Its user id.</param>
/// <param name="Gid">Its primary group id.</param>
/// <param name="Home">Its home folder, the WorkerHost's <c>HOME</c>.</param>
/// <param name="Setpriv">Where <c>setpriv</c> is.</param>
internal sealed record WorkerUser(string Name, uint Uid, uint Gid, string Home, string Setpriv)
{
    /// <summary>The user <paramref name="name"/> names, checked: it exists, this process may switch to it, and <c>setpriv</c> is there.</summary>
    /// <exception cref="ConfigurationException">It cannot be used; the message says why.</exception>
    public static WorkerUser Of(string name)
    {
        const string Setting = "PacketAkka setting 'packet.workers.user'";
        if (!OperatingSystem.IsLinux()) throw new ConfigurationException($"{Setting} works on Linux only");
        if (!Environment.IsPrivilegedProcess)
            throw new ConfigurationException($"{Setting} names \"{name}\", but this process is not root, so it cannot start processes as another user");
        var setpriv = new[] { "/usr/bin/setpriv", "/bin/setpriv" }.FirstOrDefault(File.Exists)
            ?? throw new ConfigurationException($"{Setting} needs setpriv (Debian and Ubuntu: apt-get install util-linux), which is not in /usr/bin or /bin");
        var entry = getpwnam(name);
        if (entry == IntPtr.Zero) throw new ConfigurationException($"{Setting} names \"{name}\", which is not a user on this machine");
        var passwd = Marshal.PtrToStructure<Passwd>(entry);
        if (passwd.Uid == 0) throw new ConfigurationException($"{Setting} names \"{name}\", which is root: worker code would then read everything");
        return new WorkerUser(name, passwd.Uid, passwd.Gid, Marshal.PtrToStringUTF8(passwd.Dir) ?? "/", setpriv);
    }

    /// <summary>The command line that runs <paramref name="program"/> with <paramref name="arguments"/> as this user.</summary>
    public IEnumerable<string> Wrap(string program, IEnumerable<string> arguments) =>
        ["--reuid", $"{Uid}", "--regid", $"{Gid}", "--init-groups", "--no-new-privs", "--", program, .. arguments];

    /// <summary>glibc's and musl's <c>struct passwd</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Uid;
        public uint Gid;
        public IntPtr Gecos;
        public IntPtr Dir;
        public IntPtr Shell;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
