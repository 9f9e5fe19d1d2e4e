// The seed's "complete case": each line a client sends is evaluated as a C# expression by eval_worker,
// which runs in its own Packet.WorkerHost process; the result goes back to that client as one line.
//   dotnet run --project samples/EvalServer -- [--host HOST] [--port PORT]
// Try it:  printf '1+1\n' | nc -q1 127.0.0.1 11006
// It evaluates code on purpose: keep it on localhost (the default).
using System.CommandLine;
using Akka.Configuration;
using Packet.Actors;
using Packet.Io.Configuration;

var parsed = new RootCommand("The seed's complete case: each line is evaluated as C# by eval_worker, in its own process.")
{
    SampleArgs.Host, SampleArgs.Port,
}.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var (host, port) = (parsed.GetValue(SampleArgs.Host)!, parsed.GetValue(SampleArgs.Port));
var config = ConfigurationFactory
    .ParseString($"packet.workers.root = \"{Path.Combine(AppContext.BaseDirectory, "worker").Replace("\\", "/")}\"")
    .WithFallback(PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "eval-server.conf")));

#region run
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<EvalServer>(host, port, connection => connection.Wow());
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, config);
#endregion
return 0;

#region server
/// <summary>Hands each line to eval_worker; the answer comes back to this same connection.</summary>
sealed class EvalServer : LineConnection
{
    protected override void ReceiveLine(string line) => AskWorker("eval_worker", line);

    protected override void WorkerReceive(WorkerReply reply) =>
        SendLine(reply.IsError ? $"error: {reply.Error!.ReplaceLineEndings(" ")}" : $"{reply.Data}");

    /// <summary>The seed's per-connection block calls this on each accepted instance.</summary>
    public void Wow() => Console.WriteLine("Wow");
}
#endregion
