using Router.Domain.Metrics;

namespace Router.Domain.Calibration;

/// <summary>A fitted calibrator with the cross-validated loss (Brier + ECE) of each candidate it was chosen from.</summary>
public sealed record CalibratorFit(Calibrator Calibrator, string Chosen, IReadOnlyDictionary<string, double> CrossValidatedLoss);

/// <summary>
/// Fits a calibrator to labelled scores of one model. Train sets here are small (~300 answers),
/// where plain isotonic regression overfits, so every candidate is regularised (Platt with a prior
/// towards the identity, isotonic and histogram binning with minimum bin mass and smoothing towards
/// the base rate) and the one with the lowest cross-validated Brier score plus ECE wins (Brier
/// rewards ranking and honesty, ECE is what callers read off the probability). The identity is a
/// candidate too: a calibrator never replaces a raw score that it does not beat out of sample.
/// </summary>
public static class CalibratorFitter
{
    public static CalibratorFit Fit(IReadOnlyList<double> scores, IReadOnlyList<bool> correct, int folds = 5, int seed = 17)
    {
        if (scores.Count != correct.Count)
        {
            throw new ArgumentException("scores and labels differ in length.", nameof(correct));
        }

        var candidates = new (string Name, Func<IReadOnlyList<double>, IReadOnlyList<bool>, Calibrator> Fit)[]
        {
            ("identity", (_, _) => new IdentityCalibrator()),
            ("platt", FitPlatt),
            ("isotonic", FitIsotonic),
            ("histogram", FitHistogram),
        };

        if (scores.Count < 2 * folds || correct.All(c => c) || !correct.Any(c => c))
        {
            return new CalibratorFit(FitPlatt(scores, correct), "platt", new Dictionary<string, double>());
        }

        var order = Enumerable.Range(0, scores.Count).ToArray();
        new Random(seed).Shuffle(order);
        var loss = new Dictionary<string, double>();
        foreach (var (name, fit) in candidates)
        {
            var predictions = new double[scores.Count];
            for (var f = 0; f < folds; f++)
            {
                var test = order.Where((_, i) => i % folds == f).ToArray();
                var train = order.Where((_, i) => i % folds != f).ToArray();
                var calibrator = fit([.. train.Select(i => scores[i])], [.. train.Select(i => correct[i])]);
                foreach (var i in test)
                {
                    predictions[i] = calibrator.Calibrate(scores[i]);
                }
            }

            loss[name] = CalibrationMetrics.Brier(predictions, correct) + CalibrationMetrics.Ece(predictions, correct);
        }

        var best = loss.MinBy(b => b.Value).Key;
        return new CalibratorFit(candidates.Single(c => c.Name == best).Fit(scores, correct), best, loss);
    }

    /// <summary>Platt scaling with a weak prior towards A = 1, B = 0 (the identity on the logit scale).</summary>
    public static PlattCalibrator FitPlatt(IReadOnlyList<double> scores, IReadOnlyList<bool> correct)
    {
        var weights = LogisticRegression.Fit([.. scores.Select(s => new[] { Calibrator.Logit(Clean(s)) })], correct, l2: 1.0, priorWeights: [0, 1]);
        return new PlattCalibrator(weights[1], weights[0]);
    }

    /// <summary>
    /// Pool-adjacent-violators over tied-score groups, with block values shrunk towards the base
    /// rate (two pseudo-answers) and blocks of fewer than max(10, n/15) answers merged, so a few
    /// lucky answers cannot create a step.
    /// </summary>
    public static IsotonicCalibrator FitIsotonic(IReadOnlyList<double> scores, IReadOnlyList<bool> correct)
    {
        var n = scores.Count;
        var baseRate = correct.Count(c => c) / (double)n;
        var minimum = Math.Max(10, n / 15);
        var groups = scores.Select((s, i) => (Score: Clean(s), Y: correct[i] ? 1.0 : 0.0))
            .GroupBy(p => p.Score)
            .OrderBy(g => g.Key)
            .Select(g => new Block(g.Key * g.Count(), g.Sum(p => p.Y), g.Count()))
            .ToList();

        var blocks = new List<Block>();
        foreach (var group in groups)
        {
            blocks.Add(group);
            while (blocks.Count > 1 && Violates(blocks[^2], blocks[^1], baseRate))
            {
                var merged = blocks[^2] + blocks[^1];
                blocks.RemoveRange(blocks.Count - 2, 2);
                blocks.Add(merged);
            }
        }

        for (var i = 0; i < blocks.Count && blocks.Count > 1;)
        {
            if (blocks[i].Count >= minimum)
            {
                i++;
                continue;
            }

            var neighbour = i == 0 ? 1 : i == blocks.Count - 1 ? i - 1 : (blocks[i - 1].Count <= blocks[i + 1].Count ? i - 1 : i + 1);
            var (low, high) = (Math.Min(i, neighbour), Math.Max(i, neighbour));
            blocks[low] += blocks[high];
            blocks.RemoveAt(high);
            i = Math.Max(0, low - 1);
        }

        var xs = blocks.Select(b => b.ScoreSum / b.Count).ToArray();
        var ys = blocks.Select(b => b.Smoothed(baseRate)).ToArray();
        for (var i = 1; i < ys.Length; i++)
        {
            ys[i] = Math.Max(ys[i], ys[i - 1]);
        }

        return new IsotonicCalibrator(xs, ys);
    }

    /// <summary>Equal-mass bins (n/30 of them, 3 to 10) with accuracies shrunk towards the base rate.</summary>
    public static HistogramBinningCalibrator FitHistogram(IReadOnlyList<double> scores, IReadOnlyList<bool> correct)
    {
        var n = scores.Count;
        var baseRate = correct.Count(c => c) / (double)n;
        var bins = Math.Clamp(n / 30, 3, 10);
        var sorted = scores.Select((s, i) => (Score: Clean(s), Y: correct[i] ? 1.0 : 0.0)).OrderBy(p => p.Score).ToArray();
        var edges = new List<double>();
        var probabilities = new List<double>();
        for (var b = 0; b < bins; b++)
        {
            var start = b * n / bins;
            var end = (b + 1) * n / bins;
            if (end <= start)
            {
                continue;
            }

            var bin = sorted[start..end];
            edges.Add(b == bins - 1 ? 1 : bin[^1].Score);
            probabilities.Add(new Block(0, bin.Sum(p => p.Y), bin.Length).Smoothed(baseRate));
        }

        for (var i = 1; i < probabilities.Count; i++)
        {
            probabilities[i] = Math.Max(probabilities[i], probabilities[i - 1]);
        }

        return new HistogramBinningCalibrator([.. edges], [.. probabilities]);
    }

    private static bool Violates(Block lower, Block upper, double baseRate) => lower.Smoothed(baseRate) >= upper.Smoothed(baseRate);

    private static double Clean(double score) => double.IsNaN(score) ? 0 : Math.Clamp(score, 0, 1);

    private readonly record struct Block(double ScoreSum, double Correct, int Count)
    {
        private const double PseudoCount = 2;

        public double Smoothed(double baseRate) => (Correct + PseudoCount * baseRate) / (Count + PseudoCount);

        public static Block operator +(Block a, Block b) => new(a.ScoreSum + b.ScoreSum, a.Correct + b.Correct, a.Count + b.Count);
    }
}
