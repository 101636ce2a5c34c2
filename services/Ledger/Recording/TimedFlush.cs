using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Router.Ledger.Recording;

/// <summary>
/// Times each fsync of the journal's groups. Every answer waits for one, so a disk that stalls
/// holds up every request at once: the histogram shows the disk's share of the answers' latency,
/// and a stall of <see cref="SlowAfter"/> or more is logged with the folder it happened in.
/// </summary>
public sealed partial class TimedFlush : IDurableFlush
{
    /// <summary>
    /// A healthy local disk fsyncs a group in well under a millisecond and a network share in a few;
    /// a tenth of a second means the disk stalled (this project's test machines show stalls of up to
    /// 0.9 s), and an operator who sees answers slow down should be able to tell it from the log.
    /// </summary>
    public static readonly TimeSpan SlowAfter = TimeSpan.FromMilliseconds(100);

    public const string DurationInstrument = "router.ledger.journal_fsync.duration";

    private readonly IDurableFlush _inner;
    private readonly TimeProvider _time;
    private readonly ILogger<TimedFlush> _logger;
    private readonly Histogram<double> _duration;

    public TimedFlush(IDurableFlush inner, TimeProvider time, IMeterFactory meters, ILogger<TimedFlush> logger)
    {
        _inner = inner;
        _time = time;
        _logger = logger;
        _duration = meters.Create(LedgerShipper.MeterName).CreateHistogram<double>(
            DurationInstrument, "ms", "Time of each journal fsync; every answer waits for the one of its group.");
    }

    public void FlushToDisk(FileStream file)
    {
        var started = _time.GetTimestamp();
        try
        {
            _inner.FlushToDisk(file);
        }
        finally
        {
            var elapsed = _time.GetElapsedTime(started);
            _duration.Record(elapsed.TotalMilliseconds);
            if (elapsed >= SlowAfter)
            {
                LogSlow(_logger, elapsed.TotalMilliseconds, Path.GetDirectoryName(file.Name) ?? file.Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The ledger journal's fsync took {Milliseconds:F0} ms in {Directory}; every answer of its group and those queued behind it waited for the disk")]
    private static partial void LogSlow(ILogger logger, double milliseconds, string directory);
}
