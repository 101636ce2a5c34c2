namespace Router.Domain.Metrics;

/// <summary>One bin of a reliability diagram: mean predicted probability versus observed accuracy.</summary>
public sealed record ReliabilityBin(double MeanPredicted, double Observed, int Count);

/// <summary>How well a confidence separates right from wrong (AUROC) and how honest it is as a probability (ECE, Brier).</summary>
public static class CalibrationMetrics
{
    /// <summary>Area under the ROC curve; tied scores count half. NaN scores rank lowest. NaN when one class is absent.</summary>
    public static double Auroc(IReadOnlyList<double> scores, IReadOnlyList<bool> correct)
    {
        var pairs = scores.Select((s, i) => (Score: double.IsNaN(s) ? double.NegativeInfinity : s, Correct: correct[i])).OrderBy(p => p.Score).ToArray();
        var positives = pairs.Count(p => p.Correct);
        var negatives = pairs.Length - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        double rankSum = 0;
        for (var i = 0; i < pairs.Length;)
        {
            var j = i;
            while (j < pairs.Length && pairs[j].Score.Equals(pairs[i].Score))
            {
                j++;
            }

            var averageRank = (i + 1 + j) / 2.0;
            for (var k = i; k < j; k++)
            {
                if (pairs[k].Correct)
                {
                    rankSum += averageRank;
                }
            }

            i = j;
        }

        return (rankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    /// <summary>Mean squared error of the probabilities against the 0/1 outcomes.</summary>
    public static double Brier(IReadOnlyList<double> probabilities, IReadOnlyList<bool> correct) =>
        probabilities.Select((p, i) => Math.Pow(Clean(p) - (correct[i] ? 1 : 0), 2)).Average();

    /// <summary>
    /// Reliability bins of equal mass: the predictions sorted and cut into <paramref name="bins"/>
    /// groups of (almost) equal size, so every bin has enough answers to estimate its accuracy.
    /// </summary>
    public static IReadOnlyList<ReliabilityBin> EqualMassBins(IReadOnlyList<double> probabilities, IReadOnlyList<bool> correct, int bins = 10)
    {
        var sorted = probabilities.Select((p, i) => (P: Clean(p), Y: correct[i] ? 1.0 : 0.0)).OrderBy(x => x.P).ToArray();
        var result = new List<ReliabilityBin>(bins);
        for (var b = 0; b < bins; b++)
        {
            var start = (int)((long)b * sorted.Length / bins);
            var end = (int)((long)(b + 1) * sorted.Length / bins);
            if (end > start)
            {
                var bin = sorted[start..end];
                result.Add(new ReliabilityBin(bin.Average(x => x.P), bin.Average(x => x.Y), bin.Length));
            }
        }

        return result;
    }

    /// <summary>Expected calibration error over equal-mass bins: the count-weighted mean |accuracy - confidence|.</summary>
    public static double Ece(IReadOnlyList<double> probabilities, IReadOnlyList<bool> correct, int bins = 10)
    {
        var reliability = EqualMassBins(probabilities, correct, bins);
        var total = reliability.Sum(b => b.Count);
        return reliability.Sum(b => b.Count * Math.Abs(b.Observed - b.MeanPredicted)) / total;
    }

    private static double Clean(double p) => double.IsNaN(p) ? 0 : Math.Clamp(p, 0, 1);
}
