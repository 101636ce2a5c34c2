using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Router.Ledger;

namespace Router.LedgerMigrator;

/// <summary>
/// Brings the ledger's schema up to date, then stops the process: the AppHost starts every service
/// that reads the ledger only after this has exited with code 0, so none of them meets a missing table.
/// </summary>
internal sealed partial class LedgerMigration(
    IDbContextFactory<LedgerDbContext> contexts,
    IHostApplicationLifetime lifetime,
    ILogger<LedgerMigration> logger) : BackgroundService
{
    private static readonly ActivitySource Activity = new("Router.LedgerMigrator");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var activity = Activity.StartActivity("ledger migrate");
        try
        {
            await using var db = await contexts.CreateDbContextAsync(stoppingToken);

            // On a new database EF looks for its history table before creating it and logs the
            // failed query as an error; creating the (empty) table first keeps a first start clean.
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(stoppingToken);
            await db.Database.MigrateAsync(stoppingToken);
            var applied = (await db.Database.GetAppliedMigrationsAsync(stoppingToken)).ToList();
            LogMigrated(logger, applied.Count, applied.LastOrDefault() ?? "none");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            activity?.AddException(e);
            LogFailed(logger, e);
            Environment.ExitCode = 1;
        }

        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ledger schema is up to date: {Count} migration(s) applied, the latest {Latest}")]
    private static partial void LogMigrated(ILogger logger, int count, string latest);

    [LoggerMessage(Level = LogLevel.Error, Message = "Migrating the ledger failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
