using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Router.Ledger.Recording;

namespace Router.Ledger;

public static class Extensions
{
    /// <summary>The connection string name of the ledger database (ConnectionStrings:ledger).</summary>
    public const string ConnectionName = "ledger";

    /// <summary>Registers the ledger's DbContext factory and stores over the given PostgreSQL connection string.</summary>
    public static IServiceCollection AddLedger(this IServiceCollection services, string connectionString)
    {
        if (!services.Any(d => d.ServiceType == typeof(IDbContextFactory<LedgerDbContext>)))
        {
            services.AddPooledDbContextFactory<LedgerDbContext>(options => options.UseNpgsql(connectionString));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ArtifactStore>();
        return services;
    }

    /// <summary>
    /// Registers the ledger for a hosted service through Aspire's PostgreSQL integration (traces and
    /// metrics) over ConnectionStrings:ledger, with a health check. A ledger outage degrades a service
    /// rather than taking it down (each keeps serving from what it loaded), and the check answers
    /// within two seconds. Retries are left to callers: EF's retrying strategy would hold requests for
    /// many seconds during an outage, and it refuses the ledger's explicit transactions.
    /// </summary>
    public static IHostApplicationBuilder AddLedgerDbContext(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionName} is not set. Run the system with 'dotnet run --project AppHost', or set ConnectionStrings__{ConnectionName}.");
        builder.Services.AddLedger(connectionString);

        // The integration's own health check says only that the database cannot be reached; this
        // one says why (refused, authentication, timeout), which is what an operator needs.
        builder.EnrichNpgsqlDbContext<LedgerDbContext>(settings =>
        {
            settings.DisableRetry = true;
            settings.DisableHealthChecks = true;
        });
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            ConnectionName,
            services => new LedgerHealthCheck(services.GetRequiredService<IDbContextFactory<LedgerDbContext>>()),
            HealthStatus.Degraded,
            tags: null,
            timeout: TimeSpan.FromSeconds(2)));
        return builder;
    }

    /// <summary>
    /// Registers the durable ledger path: a journal in the sub-folder of <paramref name="journalRoot"/>
    /// named by <paramref name="instance"/> (else the replica or host name: see <see cref="JournalInstance"/>)
    /// that requests are appended to, and a background shipper that writes them to PostgreSQL in batches.
    /// </summary>
    public static IServiceCollection AddLedgerRecording(this IServiceCollection services, string connectionString, string journalRoot, long maxBufferedBytes, string? instance = null)
    {
        if (string.IsNullOrWhiteSpace(journalRoot))
        {
            throw new ArgumentException("Ledger:Directory is empty; it names the folder that holds the ledger journals.", nameof(journalRoot));
        }

        return services.AddLedgerRecording(connectionString, new LedgerJournalOptions
        {
            Root = journalRoot,
            Instance = JournalInstance.Resolve(instance),
            MaxBufferedBytes = maxBufferedBytes,
        });
    }

    public static IServiceCollection AddLedgerRecording(this IServiceCollection services, string connectionString, LedgerJournalOptions options)
    {
        services.AddLedgerWriting(connectionString);
        services.AddSingleton(options);
        services.TryAddSingleton<IDurableFlush, FsyncFlush>();
        services.AddSingleton(sp => new LedgerJournal(options, new TimedFlush(
            sp.GetRequiredService<IDurableFlush>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IMeterFactory>(),
            sp.GetRequiredService<ILogger<TimedFlush>>())));
        services.AddSingleton<LedgerShipper>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerShipper>());
        return services;
    }

    /// <summary>Registers the ledger's batch writer and the dead-letter store (list, replay, discard) over the given PostgreSQL.</summary>
    public static IServiceCollection AddLedgerWriting(this IServiceCollection services, string connectionString)
    {
        services.AddLedger(connectionString);
        services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        services.AddSingleton<LedgerWriter>();
        services.AddSingleton<DeadLetterStore>();
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
