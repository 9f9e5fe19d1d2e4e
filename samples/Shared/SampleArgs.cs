/// <summary>The command line the server samples share: <c>--host HOST</c> and <c>--port PORT</c>.</summary>
static class SampleArgs
{
    /// <summary>Reads <c>--host</c> (default localhost) and <c>--port</c> (default 11006); exits with usage on a bad port.</summary>
    public static (string Host, int Port) HostAndPort(string[] args, string program)
    {
        var host = Option(args, "--host") ?? "localhost";
        if (int.TryParse(Option(args, "--port") ?? "11006", out var port) && port is >= 0 and <= 65535) return (host, port);
        Console.Error.WriteLine($"{program}: --port takes a number from 0 to 65535\nusage: {program} [--host HOST] [--port PORT]");
        Environment.Exit(2);
        return default;
    }

    /// <summary>The value after <paramref name="name"/> on the command line, or null.</summary>
    public static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
