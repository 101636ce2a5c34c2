using System.Diagnostics;

namespace Router.Benchmarks;

/// <summary>Latency percentiles over a set of timed calls.</summary>
public sealed record LatencyStats(int Count, double P50Ms, double P95Ms, double P99Ms, double MeanMs, double MaxMs)
{
    public static LatencyStats From(IReadOnlyCollection<double> millis)
    {
        if (millis.Count == 0)
        {
            throw new ArgumentException("No samples were measured.", nameof(millis));
        }

        var sorted = millis.Order().ToArray();
        return new LatencyStats(sorted.Length, Percentile(sorted, 0.50), Percentile(sorted, 0.95), Percentile(sorted, 0.99), sorted.Average(), sorted[^1]);
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>
    /// Runs <paramref name="call"/> <paramref name="totalCalls"/> times from
    /// <paramref name="concurrency"/> concurrent loops and returns the per-call latencies.
    /// </summary>
    public static async Task<LatencyStats> MeasureAsync(int concurrency, int totalCalls, Func<int, Task> call, CancellationToken cancellationToken)
    {
        var samples = new double[totalCalls];
        var next = -1;
        var loops = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < totalCalls)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var started = Stopwatch.GetTimestamp();
                await call(i);
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        });
        await Task.WhenAll(loops);
        return From(samples);
    }
}
