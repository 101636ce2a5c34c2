using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Router.Ledger.Recording;

/// <summary>
/// Moves journaled requests into PostgreSQL in batches. The schema is migrated before the first
/// write; while PostgreSQL is unreachable it retries with backoff and the rows wait in the journal.
/// </summary>
public sealed partial class LedgerShipper(
    LedgerJournal journal,
    LedgerWriter writer,
    IDbContextFactory<LedgerDbContext> contexts,
    IMeterFactory meters,
    ILogger<LedgerShipper> logger) : BackgroundService, IHealthCheck
{
    public const int BatchRows = 1000;

    /// <summary>
    /// After a partial batch the shipper lets rows gather this long: under load it otherwise ships
    /// a handful of rows per transaction, paying a commit, a checkpoint fsync and a re-read of the
    /// journal for each handful. Rows are durable in the journal meanwhile.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly Counter<long> _rowsWritten = meters.Create("Router.Ledger").CreateCounter<long>("router.ledger.rows_written", description: "Requests written to PostgreSQL.");
    private volatile string? _lastError;
    private bool _migrated;

    /// <summary>The reason the last write failed; null while PostgreSQL accepts writes.</summary>
    public string? LastError => _lastError;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        meters.Create("Router.Ledger").CreateObservableGauge("router.ledger.pending_rows", () => journal.PendingRows, description: "Requests journaled but not yet in PostgreSQL.");
        var backoff = TimeSpan.FromMilliseconds(100);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_migrated)
                {
                    await using var db = await contexts.CreateDbContextAsync(stoppingToken);
                    await db.Database.MigrateAsync(stoppingToken);
                    _migrated = true;
                }

                var batch = journal.ReadBatch(BatchRows);
                if (batch.Requests.Count > 0)
                {
                    await writer.WriteAsync(batch.Requests, stoppingToken);
                    journal.Commit(batch);
                    _rowsWritten.Add(batch.Requests.Count);
                }
                else if (_lastError is not null)
                {
                    await writer.PingAsync(stoppingToken);
                }

                if (_lastError is not null)
                {
                    LogRecovered(logger, journal.PendingRows);
                    _lastError = null;
                }

                if (batch.Requests.Count == 0)
                {
                    await journal.WaitForAppendAsync(TimeSpan.FromMilliseconds(250), stoppingToken);
                }
                else if (batch.Requests.Count < BatchRows)
                {
                    await Task.Delay(Linger, stoppingToken);
                }

                backoff = TimeSpan.FromMilliseconds(100);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException)
            {
                if (_lastError is null)
                {
                    LogWriteFailed(logger, e.Message, journal.PendingRows);
                }

                _lastError = e.Message;
                await Task.Delay(backoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>
    /// Healthy while rows reach PostgreSQL; degraded while they wait in the journal (requests are
    /// still served and recorded); unhealthy once the journal is full and requests are refused.
    /// </summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["pending_rows"] = journal.PendingRows, ["pending_bytes"] = journal.PendingBytes };
        if (journal.IsFull)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"Ledger journal is full ({journal.PendingRows} rows, {journal.PendingBytes} of {journal.MaxBufferedBytes} bytes); new requests are refused until PostgreSQL accepts writes: {_lastError}",
                data: data));
        }

        return Task.FromResult(_lastError is null
            ? HealthCheckResult.Healthy($"{journal.PendingRows} rows waiting to be written.", data)
            : HealthCheckResult.Degraded($"PostgreSQL is not accepting ledger writes ({_lastError}); {journal.PendingRows} rows held in the journal.", data: data));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger write failed ({Error}); {Pending} rows held in the journal, retrying")]
    private static partial void LogWriteFailed(ILogger logger, string error, long pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ledger writes recovered; {Pending} rows still to write")]
    private static partial void LogRecovered(ILogger logger, long pending);
}
