using Akka.Configuration;
using Packet.Actors;

namespace Packet.Bench.Servers;

/// <summary>Each newline-terminated line goes through AskWorker to an echo worker in a WorkerHost and back to its client.</summary>
public static class WorkerEchoServer
{
    /// <summary>A reactor with workers on, whose WorkerHost comes from its own build output.</summary>
    public static Config Config => ConfigurationFactory.ParseString($"""
        packet.workers.enabled = on
        packet.workers.host = "{HostBuild()}"
        """).WithFallback(PacketEchoServer.Quiet);

    public static Task RunAsync(int port) => Reactor.RunAsync(async reactor =>
    {
        await reactor.StartWorkerAsync<EchoWorker>();
        var server = await reactor.StartServerAsync("127.0.0.1", port, () => new Lines("bench_echo"));
        Console.WriteLine($"listening on {server.LocalEndPoint}");
    }, Config);

    /// <summary>
    /// The WorkerHost from its own build output: this program references the ASP.NET Core framework
    /// (for the Kestrel baseline), so the copy beside it lacks libraries that framework provides.
    /// </summary>
    internal static string HostBuild()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory); // bench/Packet.Bench/bin/<Configuration>/net10.0/
        var configuration = output.Parent!.Name;
        var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(root, "Packet.WorkerHost", "bin", configuration, output.Name, "Packet.WorkerHost.dll").Replace('\\', '/');
    }

    /// <summary>Hands each line to <paramref name="worker"/>, and sends back its answer (or <c>error: ...</c>).</summary>
    internal sealed class Lines(string worker) : LineConnection
    {
        protected override void ReceiveLine(string line) => AskWorker(worker, line);

        protected override void WorkerReceive(WorkerReply reply) => SendLine(reply.IsError ? $"error: {reply.Error}" : (string)reply.Data!);
    }
}

/// <summary>Returns what it is given.</summary>
[Worker("bench_echo", NoAutoLoad = true)]
public sealed class EchoWorker : Worker
{
    protected override object? ReceiveData(object? data) => data;
}
