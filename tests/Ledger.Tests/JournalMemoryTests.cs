using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>
/// The journal keeps its latest durable lines in memory for the shipper. Shipping from memory must
/// be indistinguishable from shipping from the file: the same lines in the same order, each once,
/// and a checkpoint a later process reads the file from correctly.
/// </summary>
public sealed class JournalMemoryTests
{
    [Fact]
    public async Task Lines_come_once_and_in_order_from_memory_and_from_the_file_past_the_memory_bound_and_across_segments()
    {
        var root = LedgerTestKit.NewRoot();
        var options = new LedgerJournalOptions { Root = root, Instance = "live", MemoryRows = 5, SegmentBytes = 2_000 };
        var appended = new List<RoutedRequest>();
        var shipped = new List<(string Id, bool FromMemory)>();
        await using (var journal = new LedgerJournal(options))
        {
            // 11 single-line groups over a bound of 5: memory holds r00-r04, starts afresh after r05
            // and holds r06-r10. Batches of 4 read r00-r07 from the file (r06 and r07 leave memory
            // as they are shipped), then r08-r10 from memory.
            await AppendAsync(journal, appended, 11);
            Ship(journal, appended, shipped, batchRows: 4, untilShipped: 11);

            // Caught up, the shipper reads memory only, across segment files; two lines stay unshipped.
            await AppendAsync(journal, appended, 4);
            Ship(journal, appended, shipped, batchRows: 3, untilShipped: 14);
            await AppendAsync(journal, appended, 4);
            Ship(journal, appended, shipped, batchRows: 3, untilShipped: 17);
            Assert.Equal(2, journal.PendingRows);
            Assert.False(File.Exists(journal.SegmentPath(1)), "segments behind the checkpoint are deleted");
        }

        Assert.Equal(appended.Take(17).Select(r => r.Id), shipped.Select(s => s.Id));
        Assert.Equal([.. Enumerable.Repeat(false, 8), .. Enumerable.Repeat(true, 9)], shipped.Select(s => s.FromMemory));

        // The next process hands the unshipped lines over; read from the file they are exactly r17 and r18.
        await using (new LedgerJournal(options))
        {
        }

        var handedOver = Directory.GetDirectories(root).Single(d => Path.GetFileName(d).StartsWith("live~", StringComparison.Ordinal));
        using var adopted = AdoptedJournal.TryOpen(handedOver)!;
        Assert.Equal(appended.Skip(17).Select(r => r.Id), adopted.ReadBatch(100).Entries.Select(e => e.Request!.Id));
    }

    private static async Task AppendAsync(LedgerJournal journal, List<RoutedRequest> appended, int count)
    {
        for (var i = 0; i < count; i++)
        {
            appended.Add(LedgerTestKit.Request($"r{appended.Count:00}"));
            Assert.True(await journal.AppendAsync(appended[^1]));
        }
    }

    /// <summary>Ships batches until <paramref name="untilShipped"/> lines are out, noting whether each came from memory (the very object appended).</summary>
    private static void Ship(LedgerJournal journal, List<RoutedRequest> appended, List<(string Id, bool FromMemory)> shipped, int batchRows, int untilShipped)
    {
        while (shipped.Count < untilShipped)
        {
            var batch = journal.ReadBatch(Math.Min(batchRows, untilShipped - shipped.Count));
            Assert.NotEmpty(batch.Entries);
            shipped.AddRange(batch.Entries.Select(e => (e.Request!.Id, appended.Any(a => ReferenceEquals(a, e.Request)))));
            journal.Commit(batch);
        }
    }
}
