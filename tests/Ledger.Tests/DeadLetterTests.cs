using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Router.Ledger.Recording;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>Rows PostgreSQL refuses and lines that are not requests are set aside; nothing behind them waits.</summary>
public sealed class DeadLetterTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Poisoned_rows_are_set_aside_named_on_health_and_the_next_1000_requests_all_reach_postgres()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var root = LedgerTestKit.NewRoot();

        // The previous run of this instance left two rows, with a line torn in the middle of the file.
        var previous = await LedgerTestKit.LeaveJournalAsync(root, "live", [LedgerTestKit.Request("before-1"), LedgerTestKit.Request("before-2")]);
        var segment = Directory.EnumerateFiles(previous, "*.jsonl").Single();
        var lines = File.ReadAllLines(segment);
        File.WriteAllText(segment, lines[0] + "\n{\"id\":\"torn-in-the-mid\n" + lines[1] + "\n");

        await using var services = LedgerTestKit.Services(connection, root);
        var journal = services.GetRequiredService<LedgerJournal>();
        using var setAside = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), LedgerShipper.MeterName, "router.ledger.dead_letters");
        var shipper = await LedgerTestKit.StartShipperAsync(services);

        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("too-long", policy: new string('p', 100_000))));
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("nul-byte", policy: "x\0y")));
        Assert.All(await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => journal.AppendAsync(LedgerTestKit.Request($"after-{i:D4}", attempts: 2)))), Assert.True);

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.CountAsync() == 1002 && journal.PendingRows == 0, "every good row is written");
        var ids = await db.Requests.Select(r => r.Id).OrderBy(id => id).ToListAsync();
        Assert.Equal(["after-0000", "after-0999", "before-1", "before-2"], [ids[0], ids[999], ids[1000], ids[1001]]);
        Assert.Equal(2000 + 2, await db.Attempts.CountAsync());
        await LedgerTestKit.WaitUntilAsync(() => !Directory.Exists(journal.LeftoversHandedOverTo), "the handed-over leftovers' folder is removed once its lines are shipped");

        var letters = await db.DeadLetters.OrderBy(d => d.Id).ToListAsync();
        Assert.Equal(3, letters.Count);
        var torn = letters.Single(d => d.Kind == DeadLetterKinds.Unreadable);
        Assert.Equal("{\"id\":\"torn-in-the-mid", Encoding.UTF8.GetString(torn.Line));
        Assert.Contains(".jsonl:", torn.Source, StringComparison.Ordinal);
        var tooLong = letters.Single(d => d.RequestId == "too-long");
        Assert.Equal(("rejected", "22001"), (tooLong.Kind, tooLong.SqlState));
        Assert.Contains(new string('p', 100_000), Encoding.UTF8.GetString(tooLong.Line), StringComparison.Ordinal);
        var nul = letters.Single(d => d.RequestId == "nul-byte");
        Assert.Equal(("rejected", "22021"), (nul.Kind, nul.SqlState));
        Assert.Contains("x\\u0000y", Encoding.UTF8.GetString(nul.Line), StringComparison.Ordinal);
        Assert.All(letters, d => Assert.Null(d.ResolvedAt));

        var measurements = setAside.GetMeasurementSnapshot();
        Assert.Equal(3, measurements.Sum(m => m.Value));
        Assert.Equal(2, measurements.Where(m => (string?)m.Tags["kind"] == DeadLetterKinds.Rejected).Sum(m => m.Value));

        var health = await shipper.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("3 journal lines were set aside in the dead_letters table", health.Description, StringComparison.Ordinal);
        Assert.Contains("request too-long refused (22001: value too long", health.Description, StringComparison.Ordinal);
        Assert.Contains("request nul-byte refused (22021:", health.Description, StringComparison.Ordinal);
        Assert.Contains("unreadable line at ", health.Description, StringComparison.Ordinal);
        Assert.Equal(3L, health.Data["dead_letters"]);
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Replaying_once_the_cause_is_fixed_writes_the_row_and_what_can_never_be_a_row_is_discarded_until_health_clears()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = LedgerTestKit.Services(connection, LedgerTestKit.NewRoot(), configure: s => s.AddSingleton<TimeProvider>(time));
        var journal = services.GetRequiredService<LedgerJournal>();
        var shipper = await LedgerTestKit.StartShipperAsync(services);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("long-policy", policy: new string('p', 300))));
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("nul-byte", policy: "x\0y")));
        await LedgerTestKit.WaitUntilAsync(() => shipper.DeadLetters.Count == 2, "both rows are set aside");
        var store = services.GetRequiredService<DeadLetterStore>();

        var unfixed = await store.ReplayAsync(null, CancellationToken.None);
        Assert.Equal([false, false], unfixed.Select(o => o.Written));
        Assert.StartsWith("22001:", unfixed.Single(o => o.RequestId == "long-policy").Error, StringComparison.Ordinal);

        // The operator widens the columns that refused the long policy name.
        await using (var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync())
        {
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE requests ALTER COLUMN policy TYPE varchar(1000); ALTER TABLE daily_rollups ALTER COLUMN policy TYPE varchar(1000)");
        }

        var replayed = await store.ReplayAsync(null, CancellationToken.None);
        Assert.True(replayed.Single(o => o.RequestId == "long-policy").Written);
        var nul = replayed.Single(o => o.RequestId == "nul-byte");
        Assert.False(nul.Written);
        Assert.StartsWith("22021:", nul.Error, StringComparison.Ordinal);
        Assert.True(await store.DiscardAsync(nul.Id, CancellationToken.None));
        Assert.False(await store.DiscardAsync(nul.Id, CancellationToken.None));

        Assert.Empty(await store.ListAsync(includeResolved: false, 100, CancellationToken.None));
        Assert.Equal(
            [DeadLetterResolutions.Replayed, DeadLetterResolutions.Discarded],
            (await store.ListAsync(includeResolved: true, 100, CancellationToken.None)).Select(d => d.Resolution));
        time.Advance(LedgerTestKit.Options("unused").AdoptionInterval);
        await LedgerTestKit.WaitUntilAsync(() => shipper.DeadLetters.Count == 0, "the shipper recounts the dead letters");
        Assert.Equal(HealthStatus.Healthy, (await shipper.CheckHealthAsync(new HealthCheckContext())).Status);
        await using var check = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal(300, (await check.Requests.SingleAsync(r => r.Id == "long-policy")).Policy.Length);
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_line_set_aside_twice_is_kept_once()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        await using var services = LedgerTestKit.Services(connection, LedgerTestKit.NewRoot());
        await services.MigrateLedgerAsync();
        var writer = services.GetRequiredService<LedgerWriter>();
        var entry = new JournalEntry(1, 0, Encoding.UTF8.GetBytes("{\"id\":\"to"), null, "not a request");
        var letter = DeadLetter.Unreadable("/journal/000000000001.jsonl:0", entry, DateTimeOffset.UtcNow);

        Assert.Equal(1, await writer.SetAsideAsync([letter], CancellationToken.None));
        Assert.Equal(0, await writer.SetAsideAsync([letter], CancellationToken.None));
        Assert.Equal(1, (await writer.DeadLetterSummaryAsync(5, CancellationToken.None)).Count);
    }
}
