// A host agent started with this folder's build as its --root runs unique_worker only while the cluster
// has chosen it to (ClusterUniqueWorkerTests).
using Packet.Actors;

namespace Packet.Tests.ClusterWorkers;

/// <summary>One instance in the whole cluster: answers with its process id and how many asks it has answered.</summary>
[Worker("unique_worker", ClusterUnique = true)]
public sealed class UniqueWorker : Worker
{
    private int _answered;

    protected override object? ReceiveData(object? data) => $"{Environment.ProcessId} {++_answered}";
}
