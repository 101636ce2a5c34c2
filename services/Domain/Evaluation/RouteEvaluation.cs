using Router.Domain.Policies;
using Router.Domain.Traces;

namespace Router.Domain.Evaluation;

/// <summary>Means over random calibration/evaluation splits for one chain, benchmark and method.</summary>
public sealed record RouteEvaluationRow(
    string Benchmark,
    string Chain,
    string Method,
    int Splits,
    int Queries,
    double TopAccuracy,
    double MeanAccuracyChange,
    double MeanCostSaved,
    IReadOnlyList<double> MeanEscalationRate,
    double ViolationRate);

/// <summary>
/// How risk guarantees are tested: pool a benchmark's queries, draw R random 50/50 splits into
/// calibration and evaluation, fit on calibration, measure on evaluation, and count the splits
/// whose accuracy loss versus the top model exceeded eps (must be at most delta).
/// </summary>
public static class RouteEvaluation
{
    public static IReadOnlyList<RouteEvaluationRow> Evaluate(ChainData data, string benchmark, int splits, double epsilon, double delta, int seed)
    {
        var results = new ((CascadeOutcome Outcome, IReadOnlyList<string> Chain) Risk, (CascadeOutcome Outcome, IReadOnlyList<string> Chain) Baseline)[splits];
        Parallel.For(0, splits, r =>
        {
            var order = Enumerable.Range(0, data.Queries).ToArray();
            new Random(seed + r).Shuffle(order);
            var calibration = order[..(order.Length / 2)];
            var evaluation = order[(order.Length / 2)..];
            var risk = ThresholdFitter.FitRiskBounded(data, calibration, epsilon, delta);
            var baseline = ThresholdFitter.FitBaseline(data, calibration, epsilon, delta);
            results[r] = ((risk.Replay(data, evaluation), risk.Chain), (baseline.Replay(data, evaluation), baseline.Chain));
        });

        return
        [
            Row(benchmark, data.Chain, "baseline: first>top, CP", [.. results.Select(r => r.Baseline)], epsilon),
            Row(benchmark, data.Chain, "risk-bounded (LTT)", [.. results.Select(r => r.Risk)], epsilon),
        ];
    }

    /// <summary>The chains and benchmarks of the acceptance table.</summary>
    public static IReadOnlyList<string[]> AcceptanceChains { get; } =
    [
        ["llama3.1-8b", "llama3.1-70b", "llama3.1-405b"],
        ["llama3.1-70b", "llama3.1-405b"],
        ["gpt-4o-mini", "gpt-4o"],
        ["llama3.2-3b", "gpt-4o-mini", "llama3.1-70b", "gpt-4o"],
    ];

    /// <summary>Benchmarks that have both a train and a test split, whose queries are pooled.</summary>
    public static IReadOnlyList<string> PooledBenchmarks(IEnumerable<CascadeTrace> traces) =>
        [.. traces.GroupBy(t => t.Benchmark).Where(g => g.Any(t => t.Split == "train") && g.Any(t => t.Split == "test")).Select(g => g.Key).Order()];

    /// <summary>Escalation rates are per model of the full chain: the share of all queries sent to it and escalated past it (0 when a fit skipped it).</summary>
    private static RouteEvaluationRow Row(string benchmark, IReadOnlyList<string> chain, string method, (CascadeOutcome Outcome, IReadOnlyList<string> Chain)[] fits, double epsilon)
    {
        var outcomes = fits.Select(f => f.Outcome).ToArray();
        return new RouteEvaluationRow(
        benchmark,
        string.Join(">", chain),
        method,
        outcomes.Length,
        outcomes[0].Queries,
        outcomes.Average(o => o.TopAccuracy),
        outcomes.Average(o => o.AccuracyChange),
        outcomes.Average(o => o.CostSaved),
        [.. chain.Take(chain.Count - 1).Select(model => fits.Average(f => f.Chain.ToList().IndexOf(model) is var s and >= 0 && s < f.Outcome.EscalationRate.Count ? f.Outcome.EscalationRate[s] : 0))],
        outcomes.Count(o => -o.AccuracyChange > epsilon) / (double)outcomes.Length);
    }
}
