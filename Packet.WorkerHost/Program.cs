// Packet.WorkerHost: the process one PacketAkka worker runs in. The master starts it and writes one
// JSON line (HostStart: this launch's secret and the run's link certificate) on its standard input. The
// host then joins the master through Akka.Remote on loopback, over TLS on that certificate, and serves the
// worker until its standard input closes (the master is gone, even after kill -9) or the worker fails to
// start. A host the master does not accept hears nothing and is killed at its start timeout.
//
// `dotnet Packet.WorkerHost.dll credentials DIR` makes a cluster's credentials instead (CredentialsCommand);
// `dotnet Packet.WorkerHost.dll join --seed HOST:PORT ...` runs a host agent (JoinCommand).
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using Packet.Actors;
using Packet.Actors.Workers;
using Packet.Actors.Workers.Protocol;

if (args is ["credentials", .. var rest]) return CredentialsCommand.Run(rest);
if (args is ["join", .. var options]) return await JoinCommand.RunAsync(options);

// A terminal's Ctrl-C and a service manager's stop signal the whole process group, this host too. The
// master stops gracefully on them and still needs this host for the asks in flight; it then ends the host
// by closing its standard input (below), or kills it.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => signal.Cancel = true);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => signal.Cancel = true);

HostStart start;
try
{
    start = HostStart.FromLine(Console.In.ReadLine() ?? throw new InvalidDataException("standard input closed before the start line"));
}
catch (Exception e)
{
    Console.Error.WriteLine($"Packet.WorkerHost: no valid start line on standard input ({e.Message}); this program is started by a PacketAkka master");
    return 2;
}

LinkCredentials link;
try
{
    link = LinkCredentials.FromBase64(start.Link);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"Packet.WorkerHost: {e.Message}");
    return 3;
}
var config = ConfigurationFactory.ParseString($$"""
    akka.loglevel = {{start.LogLevel}}
    packet.reactor.name = "worker"
    packet.workers.enabled = on
    """);
await using var reactor = Reactor.Start(config, link);

// The master sends only to the link address it reads here, and takes the first such line only: it is
// written before any code of the worker's runs (its assembly's initialisers included), so code that holds
// this host's credentials cannot point the master at another address, where a TLS handshake that fails
// would end the master's actor system.
Console.WriteLine($"{HostStart.LinkLine}{((ExtendedActorSystem)reactor.System).Provider.DefaultAddress}");

Worker worker;
PayloadSerializer payloads;
try
{
    var assembly = WorkerAssemblies.Load(start.AssemblyPath);
    var type = assembly.GetType(start.TypeName, throwOnError: true)!;
    var declared = WorkerType.Of(type);
    if (declared.Name != start.Name)
        throw new InvalidOperationException($"{start.TypeName} is named {declared.Name}, not {start.Name}");
    worker = (Worker)Activator.CreateInstance(type)!;
    var allowed = start.AllowedTypes.Select(name => Type.GetType(name, throwOnError: true)!);
    payloads = new PayloadSerializer(allowed, start.MaxPayload);
}
catch (Exception e)
{
    Console.Error.WriteLine($"Packet.WorkerHost: cannot load worker {start.Name} from {start.AssemblyPath}: {e.Message}");
    return 3;
}

var outcome = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
reactor.System.ActorOf(Props.Create(() => new WorkerActor(worker, start, payloads, reactor, outcome)), "worker");

// End of standard input means the master is gone, or that its stopping reactor ends its hosts. The
// wait blocks, so it gets a thread of its own rather than one of the thread pool's, which the actors run on.
const string MasterClosedPipe = "the master closed its end of the pipe";
new Thread(() =>
{
    while (Console.In.ReadLine() is not null) { }
    outcome.TrySetResult(MasterClosedPipe);
}) { IsBackground = true, Name = "master watch" }.Start();

var reason = await outcome.Task;
// A stopping reactor ends its hosts by closing the pipe: that stop is news (stdout, logged as info),
// every other one a problem (stderr, logged as a warning).
(reason == MasterClosedPipe ? Console.Out : Console.Error).WriteLine($"Packet.WorkerHost: {start.Name} stops: {reason}");

// Nobody takes this host's answers any more: a worker's call still running (hung, or cut off by a master
// that died) must not keep the process alive, or a master killed mid-ask would leave an orphan.
var stopped = reactor.StopAsync();
if (await Task.WhenAny(stopped, Task.Delay(TimeSpan.FromSeconds(5))) != stopped) // a stop takes well under 1 s
{
    Console.Error.WriteLine($"Packet.WorkerHost: {start.Name} ends without waiting for the worker's call still running");
    Environment.Exit(0);
}
return 0;

