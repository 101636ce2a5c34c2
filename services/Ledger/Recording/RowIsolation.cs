namespace Router.Ledger.Recording;

/// <summary>
/// Writes rows so that a row the database refuses cannot hold the others back: a write that fails
/// with a row's own error (bad data, not an outage) is split in halves, recursively, until each
/// refused row stands alone. k bad rows among n cost about 2k·log2(n) extra writes; the writes
/// must be idempotent, as halves that succeeded are written again when the batch is retried.
/// </summary>
public static class RowIsolation
{
    /// <summary>Writes every row it can; returns the rows refused, each with its error. Any other error is thrown.</summary>
    public static async Task<IReadOnlyList<(T Row, Exception Error)>> WriteAsync<T>(
        IReadOnlyList<T> rows,
        Func<IReadOnlyList<T>, Task> write,
        Func<Exception, bool> isRowError)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        try
        {
            await write(rows);
            return [];
        }
        catch (Exception e) when (isRowError(e))
        {
            if (rows.Count == 1)
            {
                return [(rows[0], e)];
            }

            var half = rows.Count / 2;
            var left = await WriteAsync([.. rows.Take(half)], write, isRowError);
            var right = await WriteAsync([.. rows.Skip(half)], write, isRowError);
            return [.. left, .. right];
        }
    }
}
