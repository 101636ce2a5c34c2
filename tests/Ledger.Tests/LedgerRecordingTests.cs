using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Router.Ledger.Recording;
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
        await using var services = LedgerTestKit.Services(connection, LedgerTestKit.NewRoot());
        var shipper = await LedgerTestKit.StartShipperAsync(services);
        var journal = services.GetRequiredService<LedgerJournal>();
        await LedgerTestKit.WaitUntilAsync(() => shipper.Database is not null, "the schema is migrated");

        await postgres.StopAsync();
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => journal.AppendAsync(LedgerTestKit.Request($"req-{i:D4}", attempts: 1 + (i % 3)))));
        await LedgerTestKit.WaitUntilAsync(() => shipper.LastError is not null, "the shipper notices PostgreSQL is gone");
        Assert.Equal(1000, journal.PendingRows);
        Assert.Equal("Degraded", (await shipper.CheckHealthAsync(new())).Status.ToString());

        await LedgerTestKit.RestartedAsync(postgres);
        await LedgerTestKit.WaitUntilAsync(() => journal.PendingRows == 0, "every journaled row is written");
        await shipper.StopAsync(CancellationToken.None);

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal(1000, await db.Requests.CountAsync());
        Assert.Equal(1000, await db.Requests.Select(r => r.Id).Distinct().CountAsync());
        Assert.Equal(Enumerable.Range(0, 1000).Sum(i => 1 + (i % 3)), await db.Attempts.CountAsync());
        var sample = await db.Requests.Include(r => r.Attempts).SingleAsync(r => r.Id == "req-0002");
        Assert.Equal(3, sample.Attempts.Count);
        Assert.Equal(0.0123m, sample.CostUsd);
        Assert.Contains("mean_logprob", sample.Attempts[0].Signals, StringComparison.Ordinal);
        Assert.Equal(0, await db.DeadLetters.CountAsync());
    }

    [Fact]
    public async Task Writing_the_same_batch_twice_writes_each_request_once()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        await using var services = LedgerTestKit.Services(postgres.ConnectionString("ledger"), LedgerTestKit.NewRoot());
        await services.MigrateLedgerAsync();
        var writer = services.GetRequiredService<LedgerWriter>();
        var batch = Enumerable.Range(0, 50).Select(i => LedgerTestKit.Request($"dup-{i}", attempts: 2)).ToList();

        Assert.Equal(50, await writer.WriteAsync(batch, CancellationToken.None));
        Assert.Equal(0, await writer.WriteAsync(batch, CancellationToken.None));

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal((50, 100), (await db.Requests.CountAsync(), await db.Attempts.CountAsync()));
        var rollup = await db.DailyRollups.SingleAsync();
        Assert.Equal((50L, 100L, 50 * 0.0123m), (rollup.Requests, rollup.Attempts, rollup.CostUsd));
        Assert.Equal(DateOnly.FromDateTime(DateTime.UtcNow), rollup.Day);
    }

    [Fact]
    public async Task A_full_journal_refuses_appends_and_reports_unhealthy()
    {
        await using var journal = new LedgerJournal(new LedgerJournalOptions { Root = LedgerTestKit.NewRoot(), Instance = "full", MaxBufferedBytes = 4096 });
        var appended = 0;
        while (await journal.AppendAsync(LedgerTestKit.Request($"fill-{appended}", attempts: 1)))
        {
            appended++;
        }

        Assert.True(journal.IsFull);
        Assert.InRange(appended, 1, 20);
        Assert.False(await journal.AppendAsync(LedgerTestKit.Request("one-more", attempts: 1)));
        Assert.Equal(appended, journal.PendingRows);
    }
}
