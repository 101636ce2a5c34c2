using System.Globalization;
using System.Text.RegularExpressions;
using Router.Ledger.Recording;

namespace Router.Benchmarks;

/// <summary>
/// The Gateways' journal fsyncs of <see cref="TimedFlush.SlowAfter"/> or more, counted from the
/// warnings they log. In a closed loop every request waits behind such a stall, so a round that had
/// one was slowed by the disk, whatever the router did.
/// </summary>
public sealed partial class JournalStalls
{
    private long _count;
    private long _totalMs;

    public void Observe(string outputLine)
    {
        if (SlowFsync().Match(outputLine) is { Success: true } match)
        {
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _totalMs, long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    public JournalStallCount Now() => new(Interlocked.Read(ref _count), Interlocked.Read(ref _totalMs));

    [GeneratedRegex(@"journal's fsync took (\d+) ms")]
    private static partial Regex SlowFsync();
}

public sealed record JournalStallCount(long Count, long TotalMs)
{
    public static JournalStallCount operator -(JournalStallCount after, JournalStallCount before) =>
        new(after.Count - before.Count, after.TotalMs - before.TotalMs);

    public override string ToString() => Count == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"{Count} ({TotalMs:N0} ms)");
}
