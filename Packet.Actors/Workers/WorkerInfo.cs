namespace Packet.Actors;

/// <summary>One running worker, as <see cref="Reactor.GetWorkersAsync"/> reports it (backgroundrb's <c>worker_info</c>).</summary>
/// <param name="Name">The worker name.</param>
/// <param name="Key">The instance key, or <see langword="null"/>.</param>
/// <param name="ProcessId">The WorkerHost process id; <see langword="null"/> while it is being restarted, and for workers run in process.</param>
/// <param name="State"><c>starting</c>, <c>running</c>, <c>restarting</c>, or <c>stopped</c> (died under <c>restart.policy = never</c>).</param>
public sealed record WorkerInfo(string Name, string? Key, int? ProcessId, string State);
