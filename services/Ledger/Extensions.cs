using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Ledger.Recording;

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

    /// <summary>
    /// Registers the durable ledger path: a journal in <paramref name="journalDirectory"/> that
    /// requests are appended to, and a background shipper that writes them to PostgreSQL in batches.
    /// </summary>
    public static IServiceCollection AddLedgerRecording(this IServiceCollection services, string connectionString, string journalDirectory, long maxBufferedBytes)
    {
        services.AddLedger(connectionString);
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddSingleton(_ => new LedgerJournal(new LedgerJournalOptions { Directory = journalDirectory, MaxBufferedBytes = maxBufferedBytes }));
        services.AddSingleton<LedgerWriter>();
        services.AddSingleton<LedgerShipper>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerShipper>());
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
