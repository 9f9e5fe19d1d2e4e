namespace Packet.Actors;

/// <summary>
/// The answer to one <c>AskWorker</c>: the worker's reply, or why there is none. Delivered to the
/// connection that asked, and to no other.
/// </summary>
/// <param name="Worker">The worker that was asked.</param>
/// <param name="Key">The instance key that was asked, or <see langword="null"/>.</param>
/// <param name="Data">What the worker's <see cref="Worker.ReceiveData"/> returned; <see langword="null"/> on error.</param>
/// <param name="Error">Why the ask failed (unknown worker, disallowed payload, worker unavailable, timeout, exception in the worker); <see langword="null"/> on success.</param>
public sealed record WorkerReply(string Worker, string? Key, object? Data, string? Error)
{
    /// <summary>True when <see cref="Error"/> is set.</summary>
    public bool IsError => Error is not null;

    /// <inheritdoc />
    public override string ToString() => IsError ? $"{Worker}: error: {Error}" : $"{Worker}: {Data?.GetType().Name ?? "null"}";
}

/// <summary>Thrown by <see cref="Reactor.AskWorkerAsync"/> when the ask fails; <see cref="Exception.Message"/> is <see cref="WorkerReply.Error"/>.</summary>
public sealed class WorkerException : Exception
{
    /// <summary>Creates the exception for a failed reply.</summary>
    /// <param name="reply">The failed reply.</param>
    public WorkerException(WorkerReply reply) : base(reply.Error) => Reply = reply;

    /// <summary>The failed reply.</summary>
    public WorkerReply Reply { get; }
}

/// <summary>One host's answer to <see cref="Reactor.AskEveryHostAsync"/>.</summary>
/// <param name="Host">The host agent's cluster address, as <see cref="WorkerInfo.Host"/> gives it; <see langword="null"/> for this machine.</param>
/// <param name="Reply">The worker's reply on that host, or why there is none.</param>
public sealed record HostReply(string? Host, WorkerReply Reply);
