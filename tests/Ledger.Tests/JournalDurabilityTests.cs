using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Router.Ledger.Recording;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>What the journal promises about the disk and about shutdown: fsync failures surface, a drain ships what is pending.</summary>
public sealed class JournalDurabilityTests
{
    [Fact]
    public async Task A_failed_fsync_fails_the_waiting_requests_with_the_io_error_and_health_says_so_until_a_write_succeeds()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var flush = new FailingFlush();
        await using var services = LedgerTestKit.Services(postgres.ConnectionString("ledger"), LedgerTestKit.NewRoot(), configure: s => s.AddSingleton<IDurableFlush>(flush));
        var journal = services.GetRequiredService<LedgerJournal>();
        var shipper = await LedgerTestKit.StartShipperAsync(services);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("durable-1")));

        flush.Failing = true;
        var failed = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Assert.ThrowsAsync<JournalWriteException>(() => journal.AppendAsync(LedgerTestKit.Request($"lost-{i}")))));
        Assert.All(failed, e =>
        {
            Assert.IsAssignableFrom<IOException>(e);
            Assert.Contains("Input/output error", e.Message, StringComparison.Ordinal);
            Assert.Contains(journal.Directory, e.Message, StringComparison.Ordinal);
        });
        var unhealthy = await shipper.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Contains("cannot write to disk", unhealthy.Description, StringComparison.Ordinal);
        Assert.Contains("Input/output error", unhealthy.Description, StringComparison.Ordinal);

        flush.Failing = false;
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("durable-2")));
        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        await LedgerTestKit.WaitUntilAsync(() => journal.PendingRows == 0, "the durable rows are written");
        Assert.Equal(["durable-1", "durable-2"], await db.Requests.Select(r => r.Id).OrderBy(id => id).ToListAsync());
        Assert.Equal(0, await db.DeadLetters.CountAsync());
        Assert.Equal(HealthStatus.Healthy, (await shipper.CheckHealthAsync(new HealthCheckContext())).Status);
        Assert.InRange(journal.WriteFailures, 1, 3);
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_line_still_being_written_is_neither_read_nor_mistaken_for_a_torn_one()
    {
        var flush = new GatedFlush();
        await using var journal = new LedgerJournal(LedgerTestKit.Options(LedgerTestKit.NewRoot()), flush);

        // The appending caller writes and fsyncs its own line, so it blocks in the gated fsync.
        var append = Task.Run(() => journal.AppendAsync(LedgerTestKit.Request("in-flight")));
        await flush.Entered.Task;
        using (var segment = new FileStream(journal.SegmentPath(1), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            Assert.Equal('{', segment.ReadByte());
        }

        Assert.Empty(journal.ReadBatch(10).Entries);

        flush.Release.SetResult();
        Assert.True(await append);
        var entry = Assert.Single(journal.ReadBatch(10).Entries);
        Assert.Equal("in-flight", entry.Request?.Id);
    }

    [Fact]
    public async Task Stopping_drains_the_journal_once_postgres_is_back_within_the_shutdown_timeout()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        await using var services = LedgerTestKit.Services(postgres.ConnectionString("ledger"), LedgerTestKit.NewRoot());
        var journal = services.GetRequiredService<LedgerJournal>();
        var shipper = await LedgerTestKit.StartShipperAsync(services);

        await postgres.StopAsync();
        Assert.All(await Task.WhenAll(Enumerable.Range(0, 300).Select(i => journal.AppendAsync(LedgerTestKit.Request($"pending-{i}")))), Assert.True);
        await LedgerTestKit.WaitUntilAsync(() => shipper.LastError is not null, "the shipper notices PostgreSQL is gone");

        using var shutdownTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stop = shipper.StopAsync(shutdownTimeout.Token);
        Assert.False(stop.IsCompleted);
        await LedgerTestKit.RestartedAsync(postgres);
        await stop;

        Assert.Equal(0, journal.PendingRows);
        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.Equal(300, await db.Requests.CountAsync());
    }

    [Fact]
    public async Task Stopping_with_nothing_pending_does_not_wait_for_a_postgres_it_never_reached()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        await postgres.StopAsync();
        await using var services = LedgerTestKit.Services(postgres.ConnectionString("ledger"), LedgerTestKit.NewRoot());
        var shipper = services.GetRequiredService<LedgerShipper>();
        await shipper.StartAsync(CancellationToken.None);
        await LedgerTestKit.WaitUntilAsync(() => shipper.LastError is not null, "the shipper fails to reach PostgreSQL");

        // No shutdown timeout: only an empty journal can end the drain.
        await shipper.StopAsync(CancellationToken.None);

        Assert.Equal(0, services.GetRequiredService<LedgerJournal>().PendingRows);
    }

    [Fact]
    public async Task Rows_a_drain_could_not_ship_are_logged_and_the_next_process_ships_them()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var connection = postgres.ConnectionString("ledger");
        var root = LedgerTestKit.NewRoot();
        await using (var services = LedgerTestKit.Services(connection, root, configure: s => s.AddFakeLogging()))
        {
            var journal = services.GetRequiredService<LedgerJournal>();
            var shipper = await LedgerTestKit.StartShipperAsync(services);
            await postgres.StopAsync();
            Assert.All(await Task.WhenAll(Enumerable.Range(0, 5).Select(i => journal.AppendAsync(LedgerTestKit.Request($"left-{i}")))), Assert.True);

            await shipper.StopAsync(new CancellationToken(canceled: true));

            var warning = services.GetFakeLogCollector().GetSnapshot().Single(r => r.Message.StartsWith("Ledger journal not drained at shutdown", StringComparison.Ordinal));
            Assert.Equal(LogLevel.Warning, warning.Level);
            Assert.Contains($"5 rows remain in {journal.Directory}", warning.Message, StringComparison.Ordinal);
        }

        await LedgerTestKit.RestartedAsync(postgres);
        await using var next = LedgerTestKit.Services(connection, root);
        var nextShipper = await LedgerTestKit.StartShipperAsync(next);
        await using var db = await next.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.CountAsync(r => r.Id.StartsWith("left-")) == 5, "the next process ships the rows left");
        await nextShipper.StopAsync(CancellationToken.None);
    }

    /// <summary>fsync that holds until released, to look at the journal while a line is written but not yet durable.</summary>
    private sealed class GatedFlush : IDurableFlush
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void FlushToDisk(FileStream file)
        {
            Entered.TrySetResult();
            Release.Task.Wait();
            file.Flush(flushToDisk: true);
        }
    }
}
