using System.Text;
using Npgsql;
using Router.Ledger.Recording;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>The pure rules of the journal: instance names, what may be adopted, what is a row's fault, how rows are isolated.</summary>
public sealed class JournalRulesTests
{
    [Theory]
    [InlineData("gw-1", "replica-7", "host", "gw-1")]
    [InlineData(null, "gateway--0000003-5d8c9f-abcde", "host", "gateway--0000003-5d8c9f-abcde")]
    [InlineData("  ", null, "build-agent.local", "build-agent.local")]
    [InlineData(null, "", "host_2", "host_2")]
    public void The_instance_is_the_setting_else_the_replica_else_the_host(string? configured, string? replica, string host, string expected) =>
        Assert.Equal(expected, JournalInstance.Resolve(configured, replica, host));

    [Theory]
    [InlineData("a/b", null, "Ledger:Instance")]
    [InlineData("..", null, "Ledger:Instance")]
    [InlineData(".hidden", null, "Ledger:Instance")]
    [InlineData(null, "replica~1", "CONTAINER_APP_REPLICA_NAME")]
    [InlineData("x\0y", null, "Ledger:Instance")]
    public void An_instance_that_cannot_name_a_folder_is_refused_naming_where_it_came_from(string? configured, string? replica, string source)
    {
        var error = Assert.Throws<ArgumentException>(() => JournalInstance.Resolve(configured, replica, "host"));
        Assert.StartsWith("Ledger:Instance: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(source, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_instance_name_over_128_characters_is_refused() =>
        Assert.Throws<ArgumentException>(() => JournalInstance.Resolve(new string('g', 129), null, "host"));

    [Fact]
    public void A_journal_is_adopted_only_into_the_ledger_its_rows_are_for()
    {
        var ours = Guid.NewGuid();
        Assert.True(JournalBinding.CanAdopt(null, ours, "db:5432/ledger"));
        Assert.True(JournalBinding.CanAdopt(new JournalBinding(ours, "other:5432/ledger"), ours, "db:5432/ledger"));
        Assert.False(JournalBinding.CanAdopt(new JournalBinding(Guid.NewGuid(), "db:5432/ledger"), ours, "db:5432/ledger"));
        Assert.True(JournalBinding.CanAdopt(new JournalBinding(null, "db:5432/ledger"), ours, "db:5432/ledger"));
        Assert.False(JournalBinding.CanAdopt(new JournalBinding(null, "db:5433/ledger"), ours, "db:5432/ledger"));
    }

    [Theory]
    [InlineData("22001", true)]
    [InlineData("22021", true)]
    [InlineData("22P02", true)]
    [InlineData("22P05", true)]
    [InlineData("23505", true)]
    [InlineData("23503", true)]
    [InlineData("54000", true)]
    [InlineData("08006", false)]
    [InlineData("57P01", false)]
    [InlineData("53300", false)]
    [InlineData("40001", false)]
    [InlineData("40P01", false)]
    [InlineData("42P01", false)]
    [InlineData("25006", false)]
    public void Only_data_and_constraint_errors_are_the_rows_fault(string sqlState, bool rowError) =>
        Assert.Equal(rowError, LedgerWriter.IsRowError(sqlState));

    [Fact]
    public void Errors_that_are_not_from_postgresql_are_never_the_rows_fault()
    {
        Assert.False(LedgerWriter.IsRowError(new TimeoutException("22001")));
        Assert.False(LedgerWriter.IsRowError(new NpgsqlException("connection refused")));
    }

    [Fact]
    public async Task Bisection_writes_every_good_row_and_returns_each_bad_row_with_its_error()
    {
        var written = new List<int>();
        var writes = 0;
        var rows = Enumerable.Range(0, 1000).ToList();

        var refused = await RowIsolation.WriteAsync(
            rows,
            batch =>
            {
                writes++;
                if (batch.Where(r => r is 17 or 640).ToList() is [var bad, ..])
                {
                    throw new RowRefused(bad);
                }

                written.AddRange(batch);
                return Task.CompletedTask;
            },
            e => e is RowRefused);

        Assert.Equal([17, 640], refused.Select(r => r.Row));
        Assert.Equal([17, 640], refused.Select(r => ((RowRefused)r.Error).Row));
        Assert.Equal(rows.Except([17, 640]), written.Order());
        Assert.InRange(writes, 3, 2 * 2 * 10 + 1);
    }

    [Fact]
    public async Task Bisection_stops_at_an_error_that_is_not_a_rows_fault()
    {
        var writes = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => RowIsolation.WriteAsync(
            Enumerable.Range(0, 100).ToList(),
            _ =>
            {
                writes++;
                throw new TimeoutException();
            },
            e => e is RowRefused));
        Assert.Equal(1, writes);
    }

    [Fact]
    public void Text_kept_with_a_dead_letter_is_text_postgresql_accepts()
    {
        Assert.Equal("xy", DeadLetter.Clean("x\0y", 10));
        Assert.Equal("a\uFFFDb", DeadLetter.Clean("a\ud800b", 10));
        Assert.Equal("ppp…", DeadLetter.Clean(new string('p', 100_000), 3));
        Assert.Equal("a…", DeadLetter.Clean("a\U0001F600", 2));
    }

    [Fact]
    public async Task Lines_torn_in_the_middle_and_at_the_end_of_a_finished_journal_are_read_as_unreadable_entries()
    {
        var root = LedgerTestKit.NewRoot();
        var directory = await LedgerTestKit.LeaveJournalAsync(root, "gone", [LedgerTestKit.Request("one"), LedgerTestKit.Request("two")]);
        var segment = Directory.EnumerateFiles(directory, "*.jsonl").Single();
        var lines = File.ReadAllLines(segment);
        File.WriteAllText(segment, lines[0] + "\n{\"id\":\"torn-in-the-mi\n" + lines[1] + "\n{\"id\":\"cut");

        using var adopted = AdoptedJournal.TryOpen(directory)!;
        var batch = adopted.ReadBatch(100);

        Assert.Equal(["one", null, "two", null], batch.Entries.Select(e => e.Request?.Id));
        Assert.StartsWith("not a request: ", batch.Entries[1].ReadError, StringComparison.Ordinal);
        Assert.Equal("{\"id\":\"torn-in-the-mi", Encoding.UTF8.GetString(batch.Entries[1].Line));
        Assert.StartsWith("torn: ", batch.Entries[3].ReadError, StringComparison.Ordinal);
        Assert.Equal(new FileInfo(segment).Length, batch.End.Offset);
        adopted.Commit(batch);
        Assert.True(adopted.IsEmpty);
    }

    private sealed class RowRefused(int row) : Exception($"row {row} refused")
    {
        public int Row { get; } = row;
    }
}
