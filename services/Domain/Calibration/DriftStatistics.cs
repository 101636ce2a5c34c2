using Router.Domain.Metrics;

namespace Router.Domain.Calibration;

/// <summary>
/// How a window of labelled answers compares with the confidence they were given: the share
/// right (<see cref="Accuracy"/>) against the mean confidence, their difference (<see cref="Gap"/>:
/// negative when the calibrator is overconfident) with a Wilson interval, and the expected
/// calibration error with a bootstrap interval.
/// </summary>
public sealed record DriftMeasurement(
    int Labels,
    double Accuracy,
    double MeanConfidence,
    double Gap,
    double GapLow,
    double GapHigh,
    double Ece,
    double EceLow,
    double EceHigh);

/// <summary>The statistics of calibration drift: pure functions over confidences and 0/1 labels.</summary>
public static class DriftStatistics
{
    /// <summary>
    /// Answers per ECE bin at the least: fewer bins for small windows. A bin of m answers alone
    /// shows |accuracy - confidence| of about 0.8 * sqrt(p(1-p)/m) from sampling noise, ~0.05 at
    /// m = 50, so the noise floor of the ECE stays the same whatever the window's size.
    /// </summary>
    public const int MinimumAnswersPerBin = 50;

    /// <summary>
    /// The bootstrap's seed: fixed, so every process that measures the same window (the Scoring
    /// service's health, the Gateway's report, the CLI) reports the same interval.
    /// </summary>
    private const int BootstrapSeed = 17;

    /// <summary>The equal-mass bins of the ECE for a window of <paramref name="labels"/> answers.</summary>
    public static int BinsFor(int labels, int maxBins) => Math.Clamp(labels / MinimumAnswersPerBin, 1, maxBins);

    /// <summary>
    /// Measures a window: <paramref name="confidences"/>[i] is the calibrated P(correct) of answer i,
    /// <paramref name="correct"/>[i] its label. Intervals are two-sided at <paramref name="level"/>
    /// (e.g. 0.95); the ECE's from <paramref name="resamples"/> bootstrap resamples of the window.
    /// </summary>
    public static DriftMeasurement Measure(IReadOnlyList<double> confidences, IReadOnlyList<bool> correct, double level, int maxBins, int resamples)
    {
        if (confidences.Count != correct.Count)
        {
            throw new ArgumentException($"{confidences.Count} confidences but {correct.Count} labels.", nameof(correct));
        }

        if (confidences.Count == 0)
        {
            throw new ArgumentException("An empty window has no calibration to measure.", nameof(confidences));
        }

        var n = confidences.Count;
        var clean = confidences.Select(p => double.IsNaN(p) ? 0 : Math.Clamp(p, 0, 1)).ToArray();
        var right = correct.Count(c => c);
        var accuracy = right / (double)n;
        var meanConfidence = clean.Average();
        var z = NormalQuantile(1 - (1 - level) / 2);
        var (low, high) = Wilson(right, n, z);
        var bins = BinsFor(n, maxBins);
        var (eceLow, eceHigh) = BootstrapEce(clean, correct, bins, level, resamples);
        return new DriftMeasurement(
            n,
            accuracy,
            meanConfidence,
            accuracy - meanConfidence,
            low - meanConfidence,
            high - meanConfidence,
            CalibrationMetrics.Ece(clean, correct, bins),
            eceLow,
            eceHigh);
    }

    /// <summary>
    /// Wilson score interval of a binomial proportion: <paramref name="successes"/> of
    /// <paramref name="trials"/>, at the normal quantile <paramref name="z"/>. Unlike the normal
    /// approximation it stays inside [0, 1] and keeps its coverage near 0 and 1, where a
    /// calibrated model's confident answers live.
    /// </summary>
    public static (double Low, double High) Wilson(int successes, int trials, double z)
    {
        if (trials <= 0 || successes < 0 || successes > trials)
        {
            throw new ArgumentOutOfRangeException(nameof(successes), $"{successes} successes of {trials} trials is not a proportion.");
        }

        var p = successes / (double)trials;
        var z2 = z * z;
        var denominator = 1 + z2 / trials;
        var centre = (p + z2 / (2 * trials)) / denominator;
        var half = z * Math.Sqrt(p * (1 - p) / trials + z2 / (4.0 * trials * trials)) / denominator;
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    /// <summary>
    /// The standard normal quantile (inverse CDF) by Acklam's rational approximation, relative
    /// error below 1.2e-9 over (0, 1).
    /// </summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), $"A probability strictly between 0 and 1 is needed; got {p}.");
        }

        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return Tail(q);
        }

        if (p > 1 - low)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -Tail(q);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((-3.969683028665376e+01 * s + 2.209460984245205e+02) * s - 2.759285104469687e+02) * s + 1.383577518672690e+02) * s - 3.066479806614716e+01) * s + 2.506628277459239e+00) * r
            / (((((-5.447609879822406e+01 * s + 1.615858368580409e+02) * s - 1.556989798598866e+02) * s + 6.680131188771972e+01) * s - 1.328068155288572e+01) * s + 1);

        static double Tail(double q) =>
            (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
            / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
    }

    /// <summary>Percentile interval of the ECE over bootstrap resamples of the window (answers drawn with replacement).</summary>
    private static (double Low, double High) BootstrapEce(double[] confidences, IReadOnlyList<bool> correct, int bins, double level, int resamples)
    {
        var random = new Random(BootstrapSeed);
        var n = confidences.Length;
        var p = new double[n];
        var y = new bool[n];
        var eces = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            for (var i = 0; i < n; i++)
            {
                var pick = random.Next(n);
                p[i] = confidences[pick];
                y[i] = correct[pick];
            }

            eces[r] = CalibrationMetrics.Ece(p, y, bins);
        }

        Array.Sort(eces);
        var tail = (1 - level) / 2;
        return (Quantile(eces, tail), Quantile(eces, 1 - tail));
    }

    private static double Quantile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
