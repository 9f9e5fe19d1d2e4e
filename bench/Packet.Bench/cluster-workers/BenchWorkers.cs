// The cluster bench's workers. A host agent started with this folder's build as its --root runs all three
// and offers them to the bench's master (ClusterBench). Each returns the line it is given, so the load
// generator can check every byte that comes back.
using System.Diagnostics;
using Packet.Actors;

namespace Packet.Bench.ClusterWorkers;

/// <summary>Work that waits (a database, a remote call): 5 ms of sleep per ask; four processes per agent, one ask each at a time.</summary>
[Worker("bench_sleep", Instances = 4, MaxInFlight = 1)]
public sealed class SleepWorker : Worker
{
    protected override object? ReceiveData(object? data)
    {
        Thread.Sleep(5);
        return data;
    }
}

/// <summary>Work that computes: a fixed amount of arithmetic per ask (about 1 ms of one core here); two processes per agent.</summary>
[Worker("bench_cpu", Instances = 2, MaxInFlight = 1)]
public sealed class CpuWorker : Worker
{
    protected override object? ReceiveData(object? data)
    {
        var x = (ulong)Stopwatch.GetTimestamp() | 1;
        for (var i = 0; i < 400_000; i++) x ^= x << 13 ^ x >> 7 ^ x << 17; // xorshift: no allocation, nothing to optimise away
        return x == 0 ? "" : data; // never 0: keeps x alive
    }
}

/// <summary>No work: what the hop to another machine costs, set against a local WorkerHost.</summary>
[Worker("bench_noop")]
public sealed class NoopWorker : Worker
{
    protected override object? ReceiveData(object? data) => data;
}
