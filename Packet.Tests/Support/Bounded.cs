namespace Packet.Tests.Support;

/// <summary>Every wait in the suite is bounded: these turn a hang into a failing test that says what it waited for.</summary>
public static class Bounded
{
    /// <summary>
    /// Long enough to ride out the stalls of a shared CI machine (a whole test process was seen making no
    /// progress for over 15 s), short enough that a real hang still fails the run in good time.
    /// </summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static async Task<T> Within<T>(this Task<T> task, string what, TimeSpan? limit = null)
    {
        await Within((Task)task, what, limit);
        return await task;
    }

    public static async Task Within(this Task task, string what, TimeSpan? limit = null)
    {
        var timeout = limit ?? Default;
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task)
            throw new TimeoutException($"waited {timeout.TotalSeconds:0.#} s for {what}");
        await task;
    }

    /// <summary>Polls a condition that has no event to await, with a deadline.</summary>
    public static Task Until(Func<bool> condition, string what, TimeSpan? limit = null) =>
        Until(() => Task.FromResult(condition()), what, limit);

    /// <summary>Polls a condition that must itself be awaited (a question to the reactor), with a deadline; no thread blocks on it.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? Default);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {(limit ?? Default).TotalSeconds:0.#} s for {what}");
            await Task.Delay(10);
        }
    }
}
