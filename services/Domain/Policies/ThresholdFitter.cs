namespace Router.Domain.Policies;

/// <summary>What a policy is fitted to: at most <see cref="Epsilon"/> accuracy loss versus the top model with probability 1 - <see cref="Delta"/>, and/or a budget, and/or a latency bound.</summary>
public sealed record PolicyTarget(double? Epsilon, double Delta, double? BudgetUsdPer1kQueries = null, double? LatencyMs = null);

/// <summary>
/// Fitted thresholds over <see cref="Chain"/> (the models of the original chain the policy keeps,
/// cheapest first), the bound that justified them, and how they did on the data they were fitted on.
/// </summary>
public sealed record ThresholdFit(IReadOnlyList<string> Chain, IReadOnlyList<double> Thresholds, string Method, double RiskBound, CascadeOutcome OnCalibration, string? Note = null)
{
    /// <summary>Replays the fitted policy on other queries of the same original chain.</summary>
    public CascadeOutcome Replay(ChainData data, IReadOnlyList<int> rows) =>
        CascadeReplay.Run(data.Select([.. Chain.Select(m => data.Chain.ToList().IndexOf(m))]), Thresholds, rows);
}

/// <summary>
/// Risk-bounded threshold fitting. Accuracy loss versus the top model is
/// E[1(top right, cascade wrong)] - E[1(top wrong, cascade right)]: escalations that help are
/// credited. Its upper confidence bound is the Clopper-Pearson upper bound of the first rate
/// minus the lower bound of the second (each at delta/2, a union bound). Thresholds are tested
/// along fixed, data-independent paths from "never accept early" to "always accept", in fixed-
/// sequence (learn-then-test) order: the path stops at the first setting whose bound exceeds eps,
/// so the chosen setting holds with probability at least 1 - delta without a multiplicity penalty
/// along the path. Several paths share delta by Bonferroni: every sub-chain that ends at the top
/// model (a stage that rarely pays off is skipped) times per-stage threshold shapes; the cheapest
/// valid one on the calibration data wins. A tied block of confidences (e.g. many answers at log-prob 0)
/// is accepted or not as a whole, because a threshold either includes the value or not.
/// </summary>
public static class ThresholdFitter
{
    /// <summary>Log-prob thresholds, most conservative first: 0 means never accept (confidences stay below 1).</summary>
    public static IReadOnlyList<double> LogGrid { get; } = BuildGrid();

    public static ThresholdFit FitRiskBounded(ChainData full, IReadOnlyList<int> rows, double epsilon, double delta)
    {
        var candidates = full.SubChains().SelectMany(stages => Paths(stages.Length).Select(shape => (Data: full.Select(stages), Shape: shape))).ToList();
        var pathDelta = delta / candidates.Count;
        ThresholdFit? best = null;
        foreach (var (data, shape) in candidates)
        {
            ThresholdFit? valid = null;
            foreach (var g in LogGrid)
            {
                var thresholds = Thresholds(shape, g);
                var outcome = CascadeReplay.Run(data, thresholds, rows);
                var bound = ClopperPearson.Upper(outcome.LostToTop, outcome.Queries, pathDelta / 2)
                    - ClopperPearson.Lower(outcome.GainedOverTop, outcome.Queries, pathDelta / 2);
                if (bound > epsilon)
                {
                    break;
                }

                valid = new ThresholdFit(data.Chain, thresholds, "risk-bounded", bound, outcome);
            }

            if (valid is not null && (best is null || valid.OnCalibration.CostUsd < best.OnCalibration.CostUsd))
            {
                best = valid;
            }
        }

        return best ?? Never(full, rows, "no setting passed the bound: every query goes to the top model");
    }

    /// <summary>
    /// The simplest valid method, the reference point: the first and the top model only, and the
    /// lowest threshold whose Clopper-Pearson upper bound on "accepted small answer wrong while the
    /// top model is right" is at most eps.
    /// </summary>
    public static ThresholdFit FitBaseline(ChainData full, IReadOnlyList<int> rows, double epsilon, double delta)
    {
        var data = full.Select([0, full.Stages - 1]);
        ThresholdFit? lowest = null;
        foreach (var g in LogGrid)
        {
            double[] thresholds = [g == 0 ? 1 : Math.Exp(g)];
            var outcome = CascadeReplay.Run(data, thresholds, rows);
            var bound = ClopperPearson.Upper(outcome.LostToTop, outcome.Queries, delta);
            if (bound <= epsilon)
            {
                lowest = new ThresholdFit(data.Chain, thresholds, "baseline", bound, outcome);
            }
        }

        return lowest ?? Never(data, rows, "no threshold passed the bound");
    }

    /// <summary>
    /// The most accurate setting (the earliest on the plain path) whose cost per 1,000 queries,
    /// bounded above by Hoeffding at 1 - delta, fits the budget; and likewise for mean latency.
    /// </summary>
    public static ThresholdFit FitBudget(ChainData data, IReadOnlyList<int> rows, PolicyTarget target)
    {
        var shape = Paths(data.Stages)[0];
        var n = rows.Count;
        var slack = Math.Sqrt(Math.Log(1 / target.Delta) / (2 * n));
        var maxCost = rows.Max(i => Enumerable.Range(0, data.Stages).Sum(s => data.CostUsd[i, s])) * 1000;
        var maxLatency = rows.Max(i => Enumerable.Range(0, data.Stages).Sum(s => data.LatencyMs[i, s]));
        foreach (var g in LogGrid)
        {
            var thresholds = Thresholds(shape, g);
            var outcome = CascadeReplay.Run(data, thresholds, rows);
            var costOk = target.BudgetUsdPer1kQueries is not { } budget || outcome.UsdPer1kQueries + maxCost * slack <= budget;
            var latencyOk = target.LatencyMs is not { } latency || outcome.MeanLatencyMs + maxLatency * slack <= latency;
            if (costOk && latencyOk)
            {
                return new ThresholdFit(data.Chain, thresholds, "budget", outcome.UsdPer1kQueries + maxCost * slack, outcome);
            }
        }

        var cheapest = Thresholds(shape, double.NegativeInfinity);
        return new ThresholdFit(data.Chain, cheapest, "budget", double.NaN, CascadeReplay.Run(data, cheapest, rows), "the budget or latency bound cannot be met with confidence 1 - delta; the cheapest setting is returned");
    }

    private static ThresholdFit Never(ChainData data, IReadOnlyList<int> rows, string note)
    {
        var never = Enumerable.Repeat(1.0, data.Stages - 1).ToArray();
        return new ThresholdFit(data.Chain, never, "never-accept-early", 0, CascadeReplay.Run(data, never, rows), note);
    }

    /// <summary>Per-stage multipliers of the log-prob threshold: equal; earlier stages stricter; earlier stages looser.</summary>
    private static List<double[]> Paths(int stages)
    {
        var k = stages - 1;
        var equal = Enumerable.Repeat(1.0, k).ToArray();
        if (k <= 1)
        {
            return [equal];
        }

        return
        [
            equal,
            [.. Enumerable.Range(0, k).Select(s => (s + 1.0) / k)],
            [.. Enumerable.Range(0, k).Select(s => (k - s) / (double)k)],
        ];
    }

    private static double[] Thresholds(double[] shape, double logThreshold) =>
        [.. shape.Select(a => logThreshold == 0 ? 1 : double.IsNegativeInfinity(logThreshold) ? 0 : Math.Exp(a * logThreshold))];

    private static List<double> BuildGrid()
    {
        // Fine near 0, where real models put most answers: a quarter or more sit at log-prob
        // exactly 0 (stored as 1 - 1e-12), and the next blocks matter as much.
        var grid = new List<double> { 0, -2e-12 };
        for (var exponent = -11; exponent <= -3; exponent++)
        {
            grid.Add(-Math.Pow(10, exponent));
            grid.Add(-3 * Math.Pow(10, exponent));
        }

        for (var i = 1; i <= 30; i++)
        {
            grid.Add(-0.01 * i);
        }

        for (var i = 7; i <= 20; i++)
        {
            grid.Add(-0.05 * i);
        }

        for (var i = 6; i <= 25; i++)
        {
            grid.Add(-0.2 * i);
        }

        grid.Add(double.NegativeInfinity);
        return grid;
    }
}
