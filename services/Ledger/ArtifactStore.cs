using Microsoft.EntityFrameworkCore;

namespace Router.Ledger;

/// <summary>Writes new artifact versions and reads them back; versions are never overwritten.</summary>
public sealed class ArtifactStore(IDbContextFactory<LedgerDbContext> contexts, TimeProvider time)
{
    /// <summary>Stores <paramref name="payload"/> as the next version of (kind, name) and returns it.</summary>
    public async Task<ModelArtifact> SaveNewVersionAsync(
        string kind, string name, string payload, string provenance, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // Writers of the same (kind, name) queue here, so each reads the version the previous one wrote.
        var lockKey = kind + "/" + name;
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtext({lockKey}))", cancellationToken);
        var latest = await db.Artifacts
            .Where(a => a.Kind == kind && a.Name == name)
            .MaxAsync(a => (int?)a.Version, cancellationToken) ?? 0;
        var artifact = new ModelArtifact
        {
            Kind = kind,
            Name = name,
            Version = latest + 1,
            CreatedAt = time.GetUtcNow(),
            Provenance = provenance,
            Payload = payload,
        };
        db.Artifacts.Add(artifact);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return artifact;
    }

    public async Task<ModelArtifact?> GetLatestAsync(string kind, string name, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Artifacts.AsNoTracking()
            .Where(a => a.Kind == kind && a.Name == name)
            .OrderByDescending(a => a.Version)
            .FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<ModelArtifact?> GetAsync(string kind, string name, int version, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Artifacts.AsNoTracking()
            .FirstOrDefaultAsync(a => a.Kind == kind && a.Name == name && a.Version == version, cancellationToken);
    }

    /// <summary>The newest version of every artifact of a kind, e.g. the current calibrator of each model.</summary>
    public async Task<IReadOnlyList<ModelArtifact>> GetLatestOfKindAsync(string kind, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var all = await db.Artifacts.AsNoTracking().Where(a => a.Kind == kind).ToListAsync(cancellationToken);
        return [.. all.GroupBy(a => a.Name).Select(g => g.MaxBy(a => a.Version)!).OrderBy(a => a.Name, StringComparer.Ordinal)];
    }
}
