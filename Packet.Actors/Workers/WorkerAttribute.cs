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
}
