using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Router.Ledger.Recording;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>The journal's fsyncs as an operator sees them: each one timed, a stalling disk named in the log.</summary>
public sealed class TimedFlushTests
{
    [Fact]
    public async Task Every_fsync_of_the_journal_is_timed_and_a_stall_is_logged_with_the_journal_folder()
    {
        var time = new FakeTimeProvider();
        var flush = new ClockedFlush(time);
        await using var services = LedgerTestKit.Services("Host=127.0.0.1;Database=unused", LedgerTestKit.NewRoot(), configure: s => s
            .AddSingleton<TimeProvider>(time)
            .AddSingleton<IDurableFlush>(flush)
            .AddFakeLogging());
        using var durations = new MetricCollector<double>(services.GetRequiredService<IMeterFactory>(), LedgerShipper.MeterName, TimedFlush.DurationInstrument);
        var journal = services.GetRequiredService<LedgerJournal>();
        var logs = services.GetFakeLogCollector();

        flush.Takes = TimeSpan.FromMilliseconds(2);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("quick")));
        Assert.DoesNotContain(logs.GetSnapshot(), l => l.Category == typeof(TimedFlush).FullName);

        flush.Takes = TimeSpan.FromMilliseconds(250);
        Assert.True(await journal.AppendAsync(LedgerTestKit.Request("stalled")));

        Assert.Equal([2.0, 250.0], durations.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal("ms", durations.Instrument!.Unit);
        var stall = Assert.Single(logs.GetSnapshot(), l => l.Category == typeof(TimedFlush).FullName);
        Assert.Equal(LogLevel.Warning, stall.Level);
        Assert.Contains("fsync took 250 ms", stall.Message, StringComparison.Ordinal);
        Assert.Contains(journal.Directory, stall.Message, StringComparison.Ordinal);
    }

    /// <summary>fsync that takes <see cref="Takes"/> on the fake clock.</summary>
    private sealed class ClockedFlush(FakeTimeProvider time) : IDurableFlush
    {
        public TimeSpan Takes { get; set; }

        public void FlushToDisk(FileStream file)
        {
            file.Flush(flushToDisk: true);
            time.Advance(Takes);
        }
    }
}
