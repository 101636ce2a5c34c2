namespace Router.Testing;

/// <summary>Waiting for a condition instead of sleeping a fixed time: what a test on real hosts waits for it names.</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="failure"/> after <paramref name="patience"/> (30 s).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string failure = "the condition never held", TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(failure);
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The same for a condition that needs no waiting to evaluate.</summary>
    public static Task UntilAsync(Func<bool> condition, string failure = "the condition never held", TimeSpan? patience = null) =>
        UntilAsync(() => Task.FromResult(condition()), failure, patience);
}
