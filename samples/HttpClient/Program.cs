// The seed's HTTP client: connect, send a GET when the connection completes, print the response.
//   dotnet run --project samples/HttpClient -- [--url http://127.0.0.1:8000/]
// Try it against:  python3 -m http.server 8000 --bind 127.0.0.1
using System.CommandLine;
using System.Text;
using Packet.Actors;
using Packet.Io.Configuration;

var urlOption = new Option<Uri>("--url")
{
    Description = "The http:// URL to GET.",
    DefaultValueFactory = _ => new Uri("http://127.0.0.1:8000/"),
    CustomParser = result => Uri.TryCreate(result.Tokens[0].Value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp
        ? uri
        : Fail(result, $"'{result.Tokens[0].Value}' is not an http:// URL"),
};
var parsed = new RootCommand("The seed's HTTP client: one GET over a raw connection, printed as it arrives.") { urlOption }.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var url = parsed.GetValue(urlOption)!;
var config = PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "http-client.conf"));

var outcome = UnbindKind.Shutdown;
Reactor.Run(reactor => reactor.Connect<HttpGet>(url.Host, url.Port, get =>
{
    get.Url = url;
    get.Finished += reason => { outcome = reason.Kind; reactor.Stop(); };
}), config);
return outcome == UnbindKind.PeerClosed ? 0 : 1;

static Uri Fail(System.CommandLine.Parsing.ArgumentResult result, string error)
{
    result.AddError(error);
    return null!;
}

/// <summary>Sends one GET with "Connection: close" and prints the response until the server closes.</summary>
sealed class HttpGet : Connection
{
    public Uri Url { get; set; } = null!;

    public event Action<UnbindReason>? Finished;

    protected override void ConnectionCompleted() =>
        SendData($"GET {Url.PathAndQuery} HTTP/1.1\r\nHost: {Url.Authority}\r\nConnection: close\r\n\r\n");

    protected override void ReceiveData(ReadOnlyMemory<byte> data) => Console.Write(Encoding.UTF8.GetString(data.Span));

    protected override void Unbind(UnbindReason reason)
    {
        if (reason.Kind != UnbindKind.PeerClosed) Console.Error.WriteLine($"HttpClient: {reason}");
        Finished?.Invoke(reason);
    }
}
