// A Redis-protocol server: what redis-cli and redis-benchmark speak (RESP), for PING, ECHO, SET, GET, INCR and DEL on a
// keyspace held in memory, and PBKDF2 (password hashing, slow on purpose), which runs in a worker process.
//   dotnet run --project samples/RedisServer -- [--host HOST] [--port PORT] [--transport akka-io|sockets] [--max-memory BYTES]
// Try it:  redis-cli -p 11006 SET greeting hello && redis-cli -p 11006 GET greeting
//          redis-benchmark -p 11006 -t set,get -P 16 -q
using System.CommandLine;
using Microsoft.Extensions.Logging;
using Packet.Actors;
using RedisServer;

// Socket completions run on .NET's socket event threads, and each connection's turn with them: one thread sees a
// socket ready, reads, parses, answers and writes, as redis-server's event loop does, with no hand-over to the thread
// pool. Every command here is quick (PBKDF2 runs in a worker); a handler that blocked would hold up every connection
// on its thread. .NET reads the switch once, at the process's first socket; set it to 0 to compare.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");

var transport = new Option<string>("--transport") { Description = "What carries the bytes: akka-io or sockets.", DefaultValueFactory = _ => "sockets" };
transport.AcceptOnlyFromAmong("akka-io", "sockets");
var maxMemory = new Option<long>("--max-memory")
{
    Description = "The most the keys and values may take, in bytes; a SET past it is refused with -OOM, as Redis' maxmemory does.",
    DefaultValueFactory = _ => 256L * 1024 * 1024,
};
maxMemory.Validators.Add(result =>
{
    if (result.GetValueOrDefault<long>() < 1024) result.AddError("--max-memory takes a number of bytes, at least 1024");
});
var parsed = new RootCommand("A Redis-protocol server: PING, ECHO, SET, GET, INCR, DEL, and PBKDF2 in a worker process.")
{
    SampleArgs.Host, SampleArgs.Port, transport, maxMemory,
}.Parse(args);
if (SampleArgs.HelpOrErrors(parsed) is { } exit) return exit;
var (host, port) = (parsed.GetValue(SampleArgs.Host)!, parsed.GetValue(SampleArgs.Port));
var options = new ReactorOptions
{
    Transport = parsed.GetValue(transport) == "akka-io" ? ReactorTransport.AkkaIo : ReactorTransport.Sockets,
    Name = "redis-server",
    LogLevel = LogLevel.Information,
    InactivityTimeout = Timeout.InfiniteTimeSpan, // Redis' "timeout 0": clients may stay idle
    WorkersEnabled = true, // PBKDF2's worker is started in code
};

#region run
var store = new Store(parsed.GetValue(maxMemory));
await Reactor.RunAsync(async reactor =>
{
    await reactor.StartWorkerAsync<Pbkdf2Worker>();
    var server = await reactor.StartServerAsync(host, port, () => new RespConnection(store));
    Console.WriteLine($"listening on {server.LocalEndPoint}");
}, options.ToConfig());
#endregion
return 0;
