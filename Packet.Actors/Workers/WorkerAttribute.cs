namespace Packet.Actors;

/// <summary>
/// Names a <see cref="Worker"/> class: Packet's <c>set_worker_name</c>, <c>set_no_auto_load</c> and
/// <c>set_worker_proxy</c> in one place. A worker class without it is refused when it is started.
/// </summary>
/// <param name="name">The worker name that <c>AskWorker</c> and <c>StartWorker</c> use, such as <c>eval_worker</c>.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class WorkerAttribute(string name) : Attribute
{
    /// <summary>The worker name.</summary>
    public string Name { get; } = name;

    /// <summary>
    /// When true, the reactor does not start this worker by itself; start it with
    /// <see cref="Reactor.StartWorkerAsync"/>.
    /// </summary>
    public bool NoAutoLoad { get; init; }

    /// <summary>
    /// How many processes serve this worker name (a pool). Each ask goes to the instance with the
    /// fewest asks in hand, so one hung or slow instance does not hold up the others. 1 unless given.
    /// </summary>
    public int Instances { get; init; } = 1;

    /// <summary>
    /// How many asks one instance holds at once; more wait at the master until an instance is free.
    /// 0 (the default) takes <c>packet.workers.max-in-flight</c>. A worker that must not be handed a
    /// second request while one may hang (an evaluator) uses 1.
    /// </summary>
    public int MaxInFlight { get; init; }

    /// <summary>
    /// The master-side proxy class for this worker (Packet's <c>set_worker_proxy</c>): a <see cref="Pimp"/>
    /// subclass with a public parameterless constructor. <see cref="MetaPimp"/> unless given.
    /// </summary>
    public Type? Proxy { get; init; }

    /// <summary>
    /// When true, the worker runs once in a whole cluster (README, "One instance in the cluster"): on
    /// one host agent at a time, the oldest that has it in its root, chosen by Akka.Cluster.Tools'
    /// cluster singleton, and moved to the next when that agent leaves or is lost. Every master asks
    /// that one instance. A master whose cluster is on never starts it itself; without a cluster it is
    /// an ordinary worker. Needs <see cref="Instances"/> 1 and not <see cref="NoAutoLoad"/>.
    /// </summary>
    public bool ClusterUnique { get; init; }
}
