using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Router.Ledger;

public static class Extensions
{
    /// <summary>Registers the ledger's DbContext factory and stores over the given PostgreSQL connection string.</summary>
    public static IServiceCollection AddLedger(this IServiceCollection services, string connectionString)
    {
        services.AddDbContextFactory<LedgerDbContext>(options => options.UseNpgsql(connectionString));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ArtifactStore>();
        return services;
    }

    /// <summary>Brings the schema up to date (idempotent; safe for several services starting at once).</summary>
    public static async Task MigrateLedgerAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<LedgerDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }
}
