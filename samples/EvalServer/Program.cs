// The seed's "complete case": each line a client sends is evaluated as a C# expression by eval_worker,
// which runs in its own Packet.WorkerHost process; the result goes back to that client as one line.
//   dotnet run --project samples/EvalServer -- [--host HOST] [--port PORT]
//     [--cluster-port N --credentials DIR [--cluster-host ADDRESS]] [--no-local-workers]
// Try it:  printf '1+1\n' | nc -q1 127.0.0.1 11006
// With --cluster-port, host agents (dotnet Packet.WorkerHost.dll join --seed ADDRESS:N ...) offer it their
// eval_workers too; with --no-local-workers, only theirs answer.
// It evaluates code on purpose: keep it on localhost (the default).
using System.CommandLine;
using Akka.Configuration;
using Packet.Actors;
using Packet.Io.Configuration;

var clusterPort = new Option<int?>("--cluster-port") { Description = "Start a cluster on this port, for host agents to join and offer their eval_workers." };
var clusterHost = new Option<string>("--cluster-host") { Description = "The address host agents reach the cluster at.", DefaultValueFactory = _ => "127.0.0.1" };
var credentials = new Option<string?>("--credentials") { Description = "The cluster's credentials folder (dotnet Packet.WorkerHost.dll credentials DIR); needed with --cluster-port." };
var noLocalWorkers = new Option<bool>("--no-local-workers") { Description = "Run no eval_worker here: only host agents' answer." };
var command = new RootCommand("The seed's complete case: each line is evaluated as C# by eval_worker, in its own process.")
{
    SampleArgs.Host, SampleArgs.Port, clusterPort, clusterHost, credentials, noLocalWorkers,
};
command.Validators.Add(result =>
{
    if (result.GetValue(clusterPort) is not null && result.GetValue(credentials) is null) result.AddError("--cluster-port needs --credentials DIR");
    if (result.GetValue(noLocalWorkers) && result.GetValue(clusterPort) is null) result.AddError("--no-local-workers needs --cluster-port: no eval_worker would answer");
});
var parsed = command.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var (host, port) = (parsed.GetValue(SampleArgs.Host)!, parsed.GetValue(SampleArgs.Port));
var workers = parsed.GetValue(noLocalWorkers)
    ? "packet.workers.enabled = on"
    : $"packet.workers.root = {Hocon(Path.Combine(AppContext.BaseDirectory, "worker"))}";
var cluster = parsed.GetValue(clusterPort) is { } clusterOn
    ? $"packet.cluster {{ enabled = on, port = {clusterOn}, hostname = {Hocon(parsed.GetValue(clusterHost)!)}, credentials = {Hocon(parsed.GetValue(credentials)!)} }}"
    : "";
var config = ConfigurationFactory.ParseString(workers + "\n" + cluster)
    .WithFallback(PacketConfig.FromFile(Path.Combine(AppContext.BaseDirectory, "eval-server.conf")));

#region run
Reactor.Run(reactor =>
{
    var server = reactor.StartServer<EvalServer>(host, port, connection => connection.Wow());
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, config);
#endregion
return 0;

static string Hocon(string text) => $"\"{text.Replace("\\", "/").Replace("\"", "\\\"")}\"";

#region server
/// <summary>Hands each line to eval_worker; the answer comes back to this same connection.</summary>
sealed class EvalServer : LineConnection
{
    protected override void ReceiveLine(string line) => AskWorker("eval_worker", line);

    protected override void WorkerReceive(WorkerReply reply) =>
        SendLine((reply.IsError ? $"error: {reply.Error}" : $"{reply.Data}").ReplaceLineEndings(" "));

    /// <summary>The seed's per-connection block calls this on each accepted instance.</summary>
    public void Wow() => Console.WriteLine("Wow");
}
#endregion
