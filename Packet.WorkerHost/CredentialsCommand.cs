using Packet.Actors.Cluster;

/// <summary>
/// <c>dotnet Packet.WorkerHost.dll credentials DIR [--hostname NAME]...</c>: makes a PacketAkka cluster's
/// credentials in DIR (see <see cref="ClusterCredentials"/>). Each <c>--hostname</c> (a DNS name or an IP
/// address) goes into the node certificates, for peers that check names.
/// </summary>
internal static class CredentialsCommand
{
    private const string Usage = "usage: dotnet Packet.WorkerHost.dll credentials DIR [--hostname NAME]...";

    public static int Run(string[] args)
    {
        if (args is ["--help" or "-h" or "-?", ..])
        {
            Console.WriteLine(Usage);
            Console.WriteLine("Makes a PacketAkka cluster's credentials in DIR: ca.crt (the cluster's own authority), and a certificate with its key per role,");
            Console.WriteLine($"{string.Join(" and ", ClusterCredentials.Roles.Select(ClusterCredentials.NodeFile))}, readable by their owner only. Copy ca.crt and a role's file to each node of that role.");
            return 0;
        }
        string? folder = null;
        var hostnames = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--hostname" when i + 1 < args.Length && args[i + 1].Length > 0:
                    hostnames.Add(args[++i]);
                    break;
                case var arg when !arg.StartsWith('-') && folder is null:
                    folder = arg;
                    break;
                default:
                    return Fail($"unexpected argument '{args[i]}'");
            }
        }
        if (folder is null) return Fail("the folder is missing");
        try
        {
            ClusterCredentials.Create(folder, hostnames);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Fail(e.Message);
        }
        Console.WriteLine($"made the cluster's credentials in {Path.GetFullPath(folder)}: {ClusterCredentials.AuthorityFile}, " +
            string.Join(", ", ClusterCredentials.Roles.Select(ClusterCredentials.NodeFile)));
        return 0;
    }

    private static int Fail(string error)
    {
        Console.Error.WriteLine($"Packet.WorkerHost credentials: {error}");
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
