using System.CommandLine;

/// <summary>The command line the samples share, on System.CommandLine: <c>--help</c>, and an error for an unknown option or a bad value.</summary>
static class SampleArgs
{
    /// <summary><c>--host HOST</c>: where a server listens (default localhost).</summary>
    public static readonly Option<string> Host = new("--host")
    {
        Description = "The address to listen on.",
        DefaultValueFactory = _ => "localhost",
    };

    /// <summary><c>--port PORT</c>: 0 to 65535, 0 for a free port (default 11006).</summary>
    public static readonly Option<int> Port = PortOption();

    private static Option<int> PortOption()
    {
        var port = new Option<int>("--port")
        {
            Description = "The port to listen on; 0 picks a free one, which the server prints.",
            DefaultValueFactory = _ => 11006,
        };
        port.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 65535) result.AddError("--port takes a number from 0 to 65535");
        });
        return port;
    }

    /// <summary>
    /// What a sample does instead of running, if anything: for <c>--help</c> (or <c>-h</c>, <c>-?</c>) it prints
    /// the help and gives 0; for an unknown option or a bad value, the errors and the usage, and 1.
    /// </summary>
    public static int? HelpOrErrors(ParseResult parsed) => parsed.Action is null ? null : parsed.Invoke();
}
