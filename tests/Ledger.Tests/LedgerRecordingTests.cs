using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
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
        Assert.Equal(DateOnly.FromDateTime(batch[0].ReceivedAt.UtcDateTime), rollup.Day);
    }

    [Fact]
    public async Task Daily_rollups_built_from_a_batch_equal_postgres_sums_over_the_stored_rows_and_count_a_resent_request_once()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        await using var services = LedgerTestKit.Services(postgres.ConnectionString("ledger"), LedgerTestKit.NewRoot());
        await services.MigrateLedgerAsync();
        var writer = services.GetRequiredService<LedgerWriter>();
        var team = Guid.NewGuid();
        var midnight = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        var batch = Enumerable.Range(0, 40).Select(i =>
        {
            var request = LedgerTestKit.Request($"roll-{i}", attempts: 1 + (i % 3), policy: i % 2 == 0 ? "default" : "cheap");
            request.TeamId = i % 3 == 0 ? null : team;
            request.FinalModel = i % 5 == 0 ? null : request.FinalModel;
            request.Error = i % 5 == 0 ? "every stage failed" : null;
            // Either side of midnight UTC, stated in another offset; amounts past the columns' 8 decimals, midpoints included.
            request.ReceivedAt = midnight.AddMinutes(i % 4 == 0 ? -1 : 1).ToOffset(TimeSpan.FromHours(i % 2 == 0 ? 5 : -7));
            request.CostUsd = 0.000000015m * i + 0.000000005m;
            request.CounterfactualCostUsd = 0.0123456789m * i;
            return request;
        }).ToList();

        // The same request twice in one batch (no attempts, so nothing else refuses it) is stored and counted once.
        var twice = Enumerable.Range(0, 2).Select(_ => LedgerTestKit.Request("roll-twice", attempts: 0)).ToList();
        twice.ForEach(request => request.ReceivedAt = midnight.AddMinutes(2));
        batch.AddRange(twice);

        Assert.Equal(20, await writer.WriteAsync(batch[..20], CancellationToken.None));
        Assert.Equal(21, await writer.WriteAsync(batch, CancellationToken.None));

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        var rollups = Ordered(await db.DailyRollups.AsNoTracking().ToListAsync());
        var expected = Ordered(await db.DailyRollups.FromSqlRaw("""
            SELECT (received_at AT TIME ZONE 'UTC')::date AS day, COALESCE(team_id, '00000000-0000-0000-0000-000000000000') AS team_id, policy,
                   COALESCE(final_model, '') AS final_model, count(*) AS requests, count(*) FILTER (WHERE error IS NOT NULL) AS failed,
                   sum(cost_usd) AS cost_usd, sum(counterfactual_cost_usd) AS counterfactual_cost_usd, sum(stages)::bigint AS attempts
            FROM requests GROUP BY 1, 2, 3, 4
            """).AsNoTracking().ToListAsync());
        Assert.Equal(2, rollups.Select(r => r.Day).Distinct().Count());
        Assert.Equal(
            expected.Select(r => (r.Day, r.TeamId, r.Policy, r.FinalModel, r.Requests, r.Failed, r.CostUsd, r.CounterfactualCostUsd, r.Attempts)),
            rollups.Select(r => (r.Day, r.TeamId, r.Policy, r.FinalModel, r.Requests, r.Failed, r.CostUsd, r.CounterfactualCostUsd, r.Attempts)));
    }

    private static List<DailyRollup> Ordered(List<DailyRollup> rollups) =>
        [.. rollups.OrderBy(r => r.Day).ThenBy(r => r.TeamId).ThenBy(r => r.Policy, StringComparer.Ordinal).ThenBy(r => r.FinalModel, StringComparer.Ordinal)];

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
