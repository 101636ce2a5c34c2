using Microsoft.EntityFrameworkCore;

namespace Router.Ledger.Recording;

/// <summary>What replaying one dead letter did: written (now resolved), or why it still cannot be.</summary>
public sealed record ReplayOutcome(long Id, string? RequestId, bool Written, string? Error);

/// <summary>
/// The operator's side of <c>dead_letters</c>: list them, replay them once the cause is fixed (a
/// wider column, say), or discard those that can never become rows. Resolved ones stay as a record;
/// the Gateway is Degraded while any is unresolved.
/// </summary>
public sealed class DeadLetterStore(IDbContextFactory<LedgerDbContext> contexts, LedgerWriter writer, TimeProvider time)
{
    public async Task<IReadOnlyList<DeadLetter>> ListAsync(bool includeResolved, int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.DeadLetters.AsNoTracking()
            .Where(d => includeResolved || d.ResolvedAt == null)
            .OrderBy(d => d.Id)
            .Take(limit)
            .ToListAsync(cancellationToken);
    }

    public async Task<DeadLetter?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.DeadLetters.AsNoTracking().SingleOrDefaultAsync(d => d.Id == id, cancellationToken);
    }

    /// <summary>
    /// Writes each unresolved dead letter (or only <paramref name="id"/>) as the ledger writer would
    /// have; those PostgreSQL now takes are marked replayed. A request already in the ledger counts as
    /// written (the writer skips it), so replaying twice is harmless.
    /// </summary>
    public async Task<IReadOnlyList<ReplayOutcome>> ReplayAsync(long? id, CancellationToken cancellationToken)
    {
        var outcomes = new List<ReplayOutcome>();
        foreach (var letter in await UnresolvedAsync(id, cancellationToken))
        {
            var entry = JournalFolder.Parse(0, 0, letter.Line);
            if (entry.Request is not { } request)
            {
                outcomes.Add(new ReplayOutcome(letter.Id, null, false, entry.ReadError));
                continue;
            }

            try
            {
                await writer.WriteAsync([request], cancellationToken);
            }
            catch (Exception e) when (LedgerWriter.IsRowError(e))
            {
                outcomes.Add(new ReplayOutcome(letter.Id, letter.RequestId, false, e.Message));
                continue;
            }

            await ResolveAsync(letter.Id, DeadLetterResolutions.Replayed, cancellationToken);
            outcomes.Add(new ReplayOutcome(letter.Id, letter.RequestId, true, null));
        }

        return outcomes;
    }

    /// <summary>Marks a dead letter as one that will never be a row; false when there is no unresolved one of that id.</summary>
    public async Task<bool> DiscardAsync(long id, CancellationToken cancellationToken) =>
        await ResolveAsync(id, DeadLetterResolutions.Discarded, cancellationToken) == 1;

    private async Task<List<DeadLetter>> UnresolvedAsync(long? id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.DeadLetters.AsNoTracking()
            .Where(d => d.ResolvedAt == null && (id == null || d.Id == id))
            .OrderBy(d => d.Id)
            .ToListAsync(cancellationToken);
    }

    private async Task<int> ResolveAsync(long id, string resolution, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await db.DeadLetters
            .Where(d => d.Id == id && d.ResolvedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.ResolvedAt, now).SetProperty(d => d.Resolution, resolution), cancellationToken);
    }
}
