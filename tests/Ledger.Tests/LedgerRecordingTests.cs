using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>The journal and its shipper on a PostgreSQL of this class's own, stopped and started under them.</summary>
public sealed class LedgerRecordingTests
{
    [Fact]
    public async Task Requests_journaled_while_postgres_is_down_all_land_once_it_is_back_none_twice()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var connection = postgres.ConnectionString("ledger");
        var journalDirectory = NewJournalDirectory();
        await using var services = Services(connection, journalDirectory);
        var shipper = services.GetRequiredService<LedgerShipper>();
        await shipper.StartAsync(CancellationToken.None);
        var journal = services.GetRequiredService<LedgerJournal>();
        await WaitUntilAsync(() => journal.PendingRows == 0 && shipper.LastError is null, "the schema is migrated");

        await postgres.StopAsync();
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => journal.AppendAsync(Request($"req-{i:D4}", attempts: 1 + (i % 3)))));
        await WaitUntilAsync(() => shipper.LastError is not null, "the shipper notices PostgreSQL is gone");
        Assert.Equal(1000, journal.PendingRows);
        Assert.Equal("Degraded", (await shipper.CheckHealthAsync(new())).Status.ToString());

        await postgres.StartAsync();
        await WaitUntilAsync(() => journal.PendingRows == 0, "every journaled row is written");
        await shipper.StopAsync(CancellationToken.None);

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal(1000, await db.Requests.CountAsync());
        Assert.Equal(1000, await db.Requests.Select(r => r.Id).Distinct().CountAsync());
        Assert.Equal(Enumerable.Range(0, 1000).Sum(i => 1 + (i % 3)), await db.Attempts.CountAsync());
        var sample = await db.Requests.Include(r => r.Attempts).SingleAsync(r => r.Id == "req-0002");
        Assert.Equal(3, sample.Attempts.Count);
        Assert.Equal(0.0123m, sample.CostUsd);
        Assert.Contains("mean_logprob", sample.Attempts[0].Signals, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writing_the_same_batch_twice_writes_each_request_once()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        await using var services = Services(postgres.ConnectionString("ledger"), NewJournalDirectory());
        await services.MigrateLedgerAsync();
        var writer = services.GetRequiredService<LedgerWriter>();
        var batch = Enumerable.Range(0, 50).Select(i => Request($"dup-{i}", attempts: 2)).ToList();

        Assert.Equal(50, await writer.WriteAsync(batch, CancellationToken.None));
        Assert.Equal(0, await writer.WriteAsync(batch, CancellationToken.None));

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal((50, 100), (await db.Requests.CountAsync(), await db.Attempts.CountAsync()));
        var rollup = await db.DailyRollups.SingleAsync();
        Assert.Equal((50L, 100L, 50 * 0.0123m), (rollup.Requests, rollup.Attempts, rollup.CostUsd));
        Assert.Equal(DateOnly.FromDateTime(DateTime.UtcNow), rollup.Day);
    }

    [Fact]
    public async Task A_reopened_journal_keeps_unshipped_rows_and_cuts_a_torn_last_line()
    {
        var directory = NewJournalDirectory();
        await using (var journal = new LedgerJournal(new LedgerJournalOptions { Directory = directory }))
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.True(await journal.AppendAsync(Request($"keep-{i}", attempts: 1)));
            }
        }

        var segment = Directory.EnumerateFiles(directory, "*.jsonl").Single();
        await File.AppendAllTextAsync(segment, "{\"id\":\"torn");

        await using var reopened = new LedgerJournal(new LedgerJournalOptions { Directory = directory });
        Assert.Equal(10, reopened.PendingRows);
        Assert.True(await reopened.AppendAsync(Request("after-crash", attempts: 1)));
        var batch = reopened.ReadBatch(100);
        Assert.Equal(11, batch.Requests.Count);
        Assert.Equal("after-crash", batch.Requests[^1].Id);

        reopened.Commit(batch);
        Assert.Equal(0, reopened.PendingRows);
        Assert.Empty(reopened.ReadBatch(100).Requests);
    }

    [Fact]
    public async Task A_full_journal_refuses_appends_and_reports_unhealthy()
    {
        var directory = NewJournalDirectory();
        await using var journal = new LedgerJournal(new LedgerJournalOptions { Directory = directory, MaxBufferedBytes = 4096 });
        var appended = 0;
        while (await journal.AppendAsync(Request($"fill-{appended}", attempts: 1)))
        {
            appended++;
        }

        Assert.True(journal.IsFull);
        Assert.InRange(appended, 1, 20);
        Assert.False(await journal.AppendAsync(Request("one-more", attempts: 1)));
        Assert.Equal(appended, journal.PendingRows);
    }

    internal static RoutedRequest Request(string id, int attempts) => new()
    {
        Id = id,
        ReceivedAt = DateTimeOffset.UtcNow,
        Policy = "default",
        PolicyVersion = "1",
        Mode = "cascade",
        FinalModel = "llama3.1-70b",
        Confidence = 0.8,
        LatencyMs = 12.5,
        CostUsd = 0.0123m,
        CounterfactualCostUsd = 0.05m,
        Stages = attempts,
        Simulated = true,
        Attempts = [.. Enumerable.Range(0, attempts).Select(a => new RoutingAttempt
        {
            RequestId = id,
            Attempt = a,
            Stage = a,
            Model = a == 0 ? "llama3.1-8b" : "llama3.1-70b",
            PromptTokens = 20,
            CompletionTokens = 5,
            CostUsd = 0.004m,
            LatencyMs = 4,
            Signals = """{"mean_logprob": -0.2}""",
            Confidence = 0.7,
            Calibrated = true,
            CalibratorVersion = "llama3.1-8b@1",
            Decision = a == attempts - 1 ? "accept" : "escalate",
            Reason = a == attempts - 1 ? "last_stage" : "confidence_below_threshold",
            Threshold = 0.75,
            Discarded = a != attempts - 1,
        })],
    };

    private static string NewJournalDirectory() => Path.Combine(TestState.Directory, "journals", Guid.NewGuid().ToString("N"));

    private static ServiceProvider Services(string connection, string journalDirectory)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        services.AddMetrics();
        services.AddLedgerRecording(connection, journalDirectory, 64L * 1024 * 1024);
        return services.BuildServiceProvider();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"Timed out waiting until {what}.");
            await Task.Delay(50);
        }
    }
}
