namespace Packet.Actors.Workers;

/// <summary>
/// Where one worker instance runs: its own <see cref="WorkerHostProcess"/> (the default, and the only
/// isolation), or <see cref="InProcessWorkerHost"/> inside the master (<c>packet.workers.in-process</c>).
/// Either way the worker speaks the same protocol to its proxy, and its end is reported through the
/// exit callback given at start.
/// </summary>
internal interface IWorkerHost : IDisposable
{
    /// <summary>Tells this start apart from earlier ones of the same instance.</summary>
    int Id { get; }

    /// <summary>The operating-system process id, or <see langword="null"/> in process.</summary>
    int? ProcessId { get; }

    /// <summary>Ends the worker at once; its exit is reported as usual.</summary>
    void Kill();

    /// <summary>
    /// Asks the worker to end on its own, as a stopping reactor does: a WorkerHost process sees its
    /// standard input close, stops its worker and exits, so Akka.Remote closes the link cleanly instead
    /// of reporting it dropped. Its exit is reported as usual; the caller kills it if it takes too long.
    /// </summary>
    void End();
}
