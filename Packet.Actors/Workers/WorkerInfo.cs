namespace Packet.Actors;

/// <summary>One running worker, as <see cref="Reactor.GetWorkersAsync"/> reports it (backgroundrb's <c>worker_info</c>).</summary>
/// <param name="Name">The worker name.</param>
/// <param name="Key">The instance key, or <see langword="null"/>.</param>
/// <param name="ProcessId">
/// The WorkerHost process id; <see langword="null"/> while it is being restarted, for workers run in process, and for
/// a host agent's instance (which stands for all its WorkerHosts of that worker).
/// </param>
/// <param name="State">
/// <c>starting</c>, <c>running</c>, <c>restarting</c>, or <c>stopped</c> (died under <c>restart.policy = never</c>); a host
/// agent's instance is <c>running</c>, <c>unreachable</c> or <c>draining</c> (its agent is leaving).
/// </param>
/// <param name="Host">
/// For an instance a host agent offers (see the README's "Scale-out on Akka.Cluster"), the agent's cluster address
/// (<c>akka.ssl.tcp://packet-cluster@HOST:PORT</c>); <see langword="null"/> for this machine's own.
/// </param>
public sealed record WorkerInfo(string Name, string? Key, int? ProcessId, string State, string? Host);
