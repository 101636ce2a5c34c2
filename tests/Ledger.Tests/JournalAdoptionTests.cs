using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Router.Ledger.Recording;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>Each instance journals in its own folder; the folders of instances that are gone are shipped by one that lives.</summary>
public sealed class JournalAdoptionTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task On_start_a_gone_instances_journal_is_shipped_and_removed_while_a_live_one_and_another_ledgers_stay()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var root = LedgerTestKit.NewRoot();
        var gone = await LedgerTestKit.LeaveJournalAsync(root, "gone", Enumerable.Range(0, 20).Select(i => LedgerTestKit.Request($"gone-{i}")));
        var foreign = await LedgerTestKit.LeaveJournalAsync(
            root,
            "foreign",
            [LedgerTestKit.Request("foreign-1")],
            new JournalBinding(Guid.NewGuid(), "elsewhere:5432/ledger"));
        await using var alive = new LedgerJournal(LedgerTestKit.Options(root, "alive"));
        Assert.True(await alive.AppendAsync(LedgerTestKit.Request("alive-1")));

        await using var services = LedgerTestKit.Services(connection, root);
        var shipper = await LedgerTestKit.StartShipperAsync(services);

        // Candidates are visited in name order, so once "gone" is removed the others were passed over.
        await LedgerTestKit.WaitUntilAsync(() => !Directory.Exists(gone), "the gone instance's journal is shipped and removed");
        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        var ids = await db.Requests.Select(r => r.Id).ToListAsync();
        Assert.Equal(20, ids.Count);
        Assert.All(ids, id => Assert.StartsWith("gone-", id, StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(alive.Directory, "000000000001.jsonl")));
        Assert.True(File.Exists(Path.Combine(foreign, "000000000001.jsonl")));
        Assert.Equal(1, alive.PendingRows);
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_journal_left_after_start_is_adopted_at_the_next_periodic_look_and_not_before()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var root = LedgerTestKit.NewRoot();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var services = LedgerTestKit.Services(connection, root, configure: s => s.AddSingleton<TimeProvider>(time));
        var journal = services.GetRequiredService<LedgerJournal>();
        var shipper = await LedgerTestKit.StartShipperAsync(services);
        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("own-1")));
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.AnyAsync(r => r.Id == "own-1"), "the first turn (connect, look for gone instances, ship) is done");

        var later = await LedgerTestKit.LeaveJournalAsync(root, "scaled-in", [LedgerTestKit.Request("later-1"), LedgerTestKit.Request("later-2")]);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("own-2")));
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.AnyAsync(r => r.Id == "own-2"), "a later turn ships the own journal");
        Assert.True(Directory.Exists(later));
        Assert.False(await db.Requests.AnyAsync(r => r.Id.StartsWith("later-")));

        time.Advance(LedgerTestKit.Options(root).AdoptionInterval);
        await LedgerTestKit.WaitUntilAsync(() => !Directory.Exists(later), "the scaled-in instance's journal is adopted");
        Assert.Equal(2, await db.Requests.CountAsync(r => r.Id.StartsWith("later-")));
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Rows_left_by_the_previous_process_of_the_same_instance_land_once_and_its_torn_last_line_is_set_aside()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var root = LedgerTestKit.NewRoot();
        var previous = await LedgerTestKit.LeaveJournalAsync(root, "live", Enumerable.Range(0, 10).Select(i => LedgerTestKit.Request($"keep-{i}")));
        await File.AppendAllTextAsync(Directory.EnumerateFiles(previous, "*.jsonl").Single(), "{\"id\":\"torn");

        await using var services = LedgerTestKit.Services(connection, root);
        var journal = services.GetRequiredService<LedgerJournal>();
        Assert.Equal(0, journal.PendingRows);
        Assert.NotNull(journal.LeftoversHandedOverTo);
        var shipper = await LedgerTestKit.StartShipperAsync(services);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("after-restart")));

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.CountAsync() == 11 && !Directory.Exists(journal.LeftoversHandedOverTo), "the left-over rows and the new one are written");
        var letter = await db.DeadLetters.SingleAsync();
        Assert.Equal(DeadLetterKinds.Unreadable, letter.Kind);
        Assert.StartsWith("torn: ", letter.Error, StringComparison.Ordinal);
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_journal_written_before_instance_folders_directly_in_the_root_is_adopted()
    {
        var connection = await postgres.CreateDatabaseAsync("ledger");
        var root = LedgerTestKit.NewRoot();
        await LedgerTestKit.LeaveJournalAsync(Path.GetDirectoryName(root)!, Path.GetFileName(root), [LedgerTestKit.Request("old-layout")]);

        await using var services = LedgerTestKit.Services(connection, root);
        var shipper = await LedgerTestKit.StartShipperAsync(services);

        await using var db = await services.GetRequiredService<IDbContextFactory<LedgerDbContext>>().CreateDbContextAsync();
        await LedgerTestKit.WaitUntilAsync(async () => await db.Requests.AnyAsync(r => r.Id == "old-layout"), "the old layout's row is written");
        await LedgerTestKit.WaitUntilAsync(() => !Directory.EnumerateFiles(root).Any(), "the old layout's files are removed");
        Assert.True(Directory.Exists(Path.Combine(root, "live")));
        await shipper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_second_process_on_the_same_instance_folder_is_told_which_settings_to_change_and_who_holds_it()
    {
        var root = LedgerTestKit.NewRoot();
        await using var first = new LedgerJournal(LedgerTestKit.Options(root, "gw"));

        var error = Assert.Throws<JournalInUseException>(() => new LedgerJournal(LedgerTestKit.Options(root, "gw")));

        Assert.Contains($"'{first.Directory}' is in use by process {Environment.ProcessId} on {Environment.MachineName}", error.Message, StringComparison.Ordinal);
        Assert.Contains("another Ledger:Instance (now 'gw')", error.Message, StringComparison.Ordinal);
        Assert.Contains($"another Ledger:Directory (now '{root}')", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(error);
        await using var other = new LedgerJournal(LedgerTestKit.Options(root, "gw-2"));
    }
}
