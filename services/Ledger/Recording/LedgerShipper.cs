using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Router.Ledger.Recording;

/// <summary>
/// Moves journaled requests into PostgreSQL in batches. The schema is migrated before the first
/// write; while PostgreSQL is unreachable it retries with backoff and the rows wait in the journal.
/// A row PostgreSQL refuses, or a line that is not a request, is set aside in <c>dead_letters</c>
/// so the rows behind it still land. It also adopts the journals of instances that are gone, and
/// on shutdown drains what is pending within the host's shutdown timeout.
/// </summary>
public sealed partial class LedgerShipper : IHostedService, IHealthCheck, IAsyncDisposable
{
    public const int BatchRows = 1000;
    public const string MeterName = "Router.Ledger";

    /// <summary>
    /// After a partial batch the shipper lets rows gather this long: under load it otherwise ships
    /// a handful of rows per transaction, paying a commit, a checkpoint fsync and a re-read of the
    /// journal for each handful. Rows are durable in the journal meanwhile.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private const int LatestDeadLetters = 5;

    private readonly LedgerJournal _journal;
    private readonly LedgerWriter _writer;
    private readonly IDbContextFactory<LedgerDbContext> _contexts;
    private readonly LedgerJournalOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LedgerShipper> _logger;
    private readonly Counter<long> _rowsWritten;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _rowsAdopted;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _stoppingOrAbort;
    private readonly HashSet<string> _foreignJournalsReported = new(StringComparer.Ordinal);
    private Task? _loop;
    private int _disposed;
    private volatile JournalBinding? _ledger;
    private DateTimeOffset _nextAdoption;
    private volatile string? _lastError;
    private volatile DeadLetterSummary _deadLetters = DeadLetterSummary.None;

    public LedgerShipper(
        LedgerJournal journal,
        LedgerWriter writer,
        IDbContextFactory<LedgerDbContext> contexts,
        LedgerJournalOptions options,
        IMeterFactory meters,
        TimeProvider time,
        ILogger<LedgerShipper> logger)
    {
        _journal = journal;
        _writer = writer;
        _contexts = contexts;
        _options = options;
        _time = time;
        _logger = logger;
        _stoppingOrAbort = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, _abort.Token);
        var meter = meters.Create(MeterName);
        _rowsWritten = meter.CreateCounter<long>("router.ledger.rows_written", description: "Requests written to PostgreSQL.");
        _deadLettered = meter.CreateCounter<long>("router.ledger.dead_letters", description: "Journal lines set aside in dead_letters (tag kind: rejected by PostgreSQL, or unreadable).");
        _rowsAdopted = meter.CreateCounter<long>("router.ledger.adopted_lines", description: "Journal lines shipped from the journals of instances that are gone.");
        meter.CreateObservableGauge("router.ledger.pending_rows", () => journal.PendingRows, description: "Requests journaled but not yet in PostgreSQL.");
        meter.CreateObservableGauge("router.ledger.unresolved_dead_letters", () => _deadLetters.Count, description: "Set-aside lines nobody has replayed or discarded yet.");
        meter.CreateObservableCounter("router.ledger.journal_write_failures", () => journal.WriteFailures, description: "Journal groups whose write or fsync failed.");
    }

    /// <summary>The reason the last write failed; null while PostgreSQL accepts writes.</summary>
    public string? LastError => _lastError;

    /// <summary>The id of the ledger database it ships to; null until it has reached it.</summary>
    public Guid? Database => _ledger?.Database;

    /// <summary>Unresolved set-aside lines, as last counted.</summary>
    public DeadLetterSummary DeadLetters => _deadLetters;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_journal.LeftoversHandedOverTo is { } handedOver)
        {
            LogLeftoversHandedOver(_logger, _journal.Directory, handedOver);
        }

        _journal.Bind(new JournalBinding(null, _writer.Target));
        _nextAdoption = _time.GetUtcNow();
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Ships what is pending before returning, until the journal is empty or the host's shutdown
    /// timeout (<paramref name="cancellationToken"/>) runs out; what is left stays in the journal.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        using (cancellationToken.Register(_abort.Cancel))
        {
            await _loop;
        }

        if (_journal.PendingRows > 0)
        {
            LogLeftAtShutdown(_logger, _journal.PendingRows, _journal.Directory, _lastError ?? "the shutdown timeout ran out");
        }
    }

    private async Task RunAsync()
    {
        var abort = _abort.Token;
        var backoff = FirstBackoff;
        while (!abort.IsCancellationRequested)
        {
            var draining = _stopping.IsCancellationRequested;
            if (draining && _journal.PendingRows == 0)
            {
                return;
            }

            try
            {
                await ConnectAsync(abort);
                if (!draining && _time.GetUtcNow() >= _nextAdoption)
                {
                    await AdoptGoneInstancesAsync(abort);
                    _deadLetters = await _writer.DeadLetterSummaryAsync(LatestDeadLetters, abort);
                    _nextAdoption = _time.GetUtcNow() + _options.AdoptionInterval;
                }

                var shipped = await ShipBatchAsync(_journal, abort);
                if (shipped == 0 && _lastError is not null)
                {
                    await _writer.PingAsync(abort);
                }

                if (_lastError is not null)
                {
                    LogRecovered(_logger, _journal.PendingRows);
                    _lastError = null;
                }

                backoff = FirstBackoff;
                if (shipped == 0)
                {
                    await _journal.WaitForAppendAsync(IdlePoll, draining ? abort : _stoppingOrAbort.Token);
                }
                else if (shipped < BatchRows && !draining)
                {
                    await Task.Delay(Linger, _stoppingOrAbort.Token);
                }
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested && !draining)
            {
                // Stop was asked while waiting: the next turn drains.
            }
            catch (Exception e)
            {
                // PostgreSQL down, a timeout, the journal unreadable for a moment: nothing is lost
                // (the checkpoint has not moved), so retry the same rows until it works.
                if (_lastError is null)
                {
                    LogWriteFailed(_logger, e.Message, _journal.PendingRows);
                }

                _lastError = e.Message;
                await Task.Delay(backoff, abort).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>Migrates the schema and learns which database this is, once.</summary>
    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (_ledger is not null)
        {
            return;
        }

        await using (var db = await _contexts.CreateDbContextAsync(cancellationToken))
        {
            await db.Database.MigrateAsync(cancellationToken);
        }

        var ledger = new JournalBinding(await _writer.DatabaseIdAsync(cancellationToken), _writer.Target);
        _journal.Bind(ledger);
        _ledger = ledger;
    }

    /// <summary>Ships one batch of <paramref name="journal"/>, setting aside what cannot be written; returns how many lines it consumed.</summary>
    private async Task<int> ShipBatchAsync(IShippableJournal journal, CancellationToken cancellationToken)
    {
        var batch = journal.ReadBatch(BatchRows);
        if (batch.Entries.Count == 0)
        {
            return 0;
        }

        var readable = batch.Entries.Where(e => e.Request is not null).ToList();
        var refused = await RowIsolation.WriteAsync(
            readable,
            rows => _writer.WriteAsync([.. rows.Select(r => r.Request!)], cancellationToken),
            LedgerWriter.IsRowError);
        var now = _time.GetUtcNow();
        List<DeadLetter> letters =
        [
            .. batch.Entries.Where(e => e.Request is null).Select(e => DeadLetter.Unreadable(Source(journal, e), e, now)),
            .. refused.Select(r => DeadLetter.Rejected(Source(journal, r.Row), r.Row, r.Error, now)),
        ];
        if (letters.Count > 0)
        {
            await _writer.SetAsideAsync(letters, cancellationToken);
            foreach (var letter in letters)
            {
                _deadLettered.Add(1, new KeyValuePair<string, object?>("kind", letter.Kind));
                LogSetAside(_logger, letter.Describe());
            }

            _deadLetters = await _writer.DeadLetterSummaryAsync(LatestDeadLetters, cancellationToken);
        }

        journal.Commit(batch);
        _rowsWritten.Add(readable.Count - refused.Count);
        return batch.Entries.Count;
    }

    private static string Source(IShippableJournal journal, JournalEntry entry) => $"{journal.SegmentPath(entry.Segment)}:{entry.Offset}";

    /// <summary>
    /// Ships and removes the journals under the root whose process is gone (their lock is free):
    /// a replica scaled in, a crashed run, this instance's own left-overs. A journal whose rows are
    /// for another ledger database is left for a Gateway of that database.
    /// </summary>
    private async Task AdoptGoneInstancesAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in AdoptedJournal.Candidates(_options.Root, _journal.Directory))
        {
            using var adopted = AdoptedJournal.TryOpen(directory);
            if (adopted is null)
            {
                continue;
            }

            if (!adopted.IsEmpty && !JournalBinding.CanAdopt(adopted.Binding, _ledger!.Database!.Value, _writer.Target))
            {
                if (_foreignJournalsReported.Add(directory))
                {
                    LogForeignJournal(_logger, directory, adopted.Binding?.Database?.ToString() ?? adopted.Binding?.Target ?? "?", _writer.Target);
                }

                continue;
            }

            long lines = 0;
            while (!adopted.IsEmpty && !_stopping.IsCancellationRequested)
            {
                lines += await ShipBatchAsync(adopted, cancellationToken);
            }

            if (adopted.IsEmpty)
            {
                adopted.Remove();
            }

            if (lines > 0)
            {
                _rowsAdopted.Add(lines);
                LogAdopted(_logger, lines, directory);
            }
        }
    }

    /// <summary>
    /// Unhealthy while the journal cannot write (requests fail) or is full (requests are refused);
    /// degraded while rows wait for PostgreSQL or set-aside rows await an operator; else healthy.
    /// </summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var deadLetters = _deadLetters;
        var data = new Dictionary<string, object>
        {
            ["journal"] = _journal.Directory,
            ["pending_rows"] = _journal.PendingRows,
            ["pending_bytes"] = _journal.PendingBytes,
            ["dead_letters"] = deadLetters.Count,
        };
        if (_journal.WriteFailure is { } failure)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"The ledger journal cannot write to disk, so requests fail rather than go unrecorded: {failure.Message}", failure, data));
        }

        if (_journal.IsFull)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"Ledger journal is full ({_journal.PendingRows} rows, {_journal.PendingBytes} of {_journal.MaxBufferedBytes} bytes); new requests are refused until PostgreSQL accepts writes: {_lastError}",
                data: data));
        }

        var problems = new List<string>();
        if (_lastError is { } error)
        {
            problems.Add($"Ledger rows are not reaching PostgreSQL ({error}); {_journal.PendingRows} rows held in the journal {_journal.Directory}.");
        }

        if (deadLetters.Count > 0)
        {
            problems.Add(
                $"{deadLetters.Count} journal lines were set aside in the dead_letters table of the ledger database (PostgreSQL refused them or they were unreadable), latest: "
                + string.Join("; ", deadLetters.Latest)
                + ". List, replay or discard them with `router ledger dead-letters`.");
        }

        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{_journal.PendingRows} rows waiting to be written.", data)
            : HealthCheckResult.Degraded(string.Join(" ", problems), data: data));
    }

    /// <summary>Stops the loop without draining (the host drains in <see cref="StopAsync"/>); registered twice, disposed twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _abort.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        _stoppingOrAbort.Dispose();
        _stopping.Dispose();
        _abort.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger write failed ({Error}); {Pending} rows held in the journal, retrying")]
    private static partial void LogWriteFailed(ILogger logger, string error, long pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ledger writes recovered; {Pending} rows still to write")]
    private static partial void LogRecovered(ILogger logger, long pending);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ledger line set aside in dead_letters: {DeadLetter}")]
    private static partial void LogSetAside(ILogger logger, string deadLetter);

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopted {Lines} journal lines from {Directory}, whose process is gone, and removed it")]
    private static partial void LogAdopted(ILogger logger, long lines, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The journal {Directory} holds rows for another ledger ({Theirs}), not this Gateway's ({Ours}); left for a Gateway of that ledger")]
    private static partial void LogForeignJournal(ILogger logger, string directory, string theirs, string ours);

    [LoggerMessage(Level = LogLevel.Information, Message = "The previous process of journal {Directory} left unshipped lines; moved to {HandedOver}, which is shipped like a gone instance's journal")]
    private static partial void LogLeftoversHandedOver(ILogger logger, string directory, string handedOver);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ledger journal not drained at shutdown: {Pending} rows remain in {Directory} ({Reason}); the next Gateway with this Ledger:Instance, or any Gateway of this ledger adopting the folder, ships them")]
    private static partial void LogLeftAtShutdown(ILogger logger, long pending, string directory, string reason);
}
