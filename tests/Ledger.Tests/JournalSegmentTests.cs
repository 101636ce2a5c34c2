using System.Text;
using Router.Ledger.Recording;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>
/// Segments are written full of zeros before their lines (so an fsync commits no size change), and
/// data ends at the first zero byte: what a closed journal and a dead process leave must read the same.
/// </summary>
public sealed class JournalSegmentTests
{
    private const long SegmentBytes = 64 * 1024;

    [Fact]
    public async Task A_segment_is_zero_filled_while_written_the_next_is_prepared_and_closing_cuts_it_to_its_lines()
    {
        var options = new LedgerJournalOptions { Root = LedgerTestKit.NewRoot(), Instance = "live", SegmentBytes = SegmentBytes };
        string first;
        string next;
        await using (var journal = new LedgerJournal(options))
        {
            first = journal.SegmentPath(1);
            next = journal.SegmentPath(2);
            Assert.True(await journal.AppendAsync(LedgerTestKit.Request("one")));
            Assert.True(await journal.AppendAsync(LedgerTestKit.Request("two")));

            Assert.Equal(SegmentBytes, new FileInfo(first).Length);
            await LedgerTestKit.WaitUntilAsync(() => File.Exists(next) && new FileInfo(next).Length == SegmentBytes, "the next segment is zero-filled in the background");
        }

        var lines = File.ReadAllLines(first);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line => Assert.StartsWith("{", line, StringComparison.Ordinal));
        Assert.False(File.Exists(next), "the unused next segment is deleted on close");
    }

    [Fact]
    public async Task Lines_a_dead_process_left_before_its_zeros_are_handed_over_and_read_to_the_last_one_and_a_torn_one_is_set_aside()
    {
        var root = LedgerTestKit.NewRoot();
        var previous = await LedgerTestKit.LeaveJournalAsync(root, "live", [LedgerTestKit.Request("one"), LedgerTestKit.Request("two")]);
        var segment = Path.Combine(previous, "000000000001.jsonl");
        var data = new FileInfo(segment).Length;

        // What a killed process leaves: a line cut short by the crash, the zeros it was to overwrite, and a spare segment of zeros.
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(Encoding.UTF8.GetBytes("{\"id\":\"cu"));
            file.Write(new byte[SegmentBytes]);
        }

        await File.WriteAllBytesAsync(Path.Combine(previous, "000000000002.jsonl"), new byte[SegmentBytes]);

        await using (var journal = new LedgerJournal(LedgerTestKit.Options(root)))
        {
            Assert.NotNull(journal.LeftoversHandedOverTo);
            Assert.Equal(["000000000001.jsonl"], Directory.EnumerateFiles(journal.LeftoversHandedOverTo).Where(f => f.EndsWith(".jsonl", StringComparison.Ordinal)).Select(Path.GetFileName));

            using var adopted = AdoptedJournal.TryOpen(journal.LeftoversHandedOverTo)!;
            var batch = adopted.ReadBatch(100);

            Assert.Equal(["one", "two", null], batch.Entries.Select(e => e.Request?.Id));
            Assert.Equal("{\"id\":\"cu", Encoding.UTF8.GetString(batch.Entries[2].Line));
            Assert.StartsWith("torn: ", batch.Entries[2].ReadError, StringComparison.Ordinal);
            Assert.Equal(new JournalPosition(1, data + 9), batch.End);
            adopted.Commit(batch);
            Assert.True(adopted.IsEmpty);
        }
    }
}
