using Router.Domain.Policies;
using Router.Domain.Traces;

namespace Router.Domain.Evaluation;

/// <summary>
/// Means over random calibration/evaluation splits for one chain, benchmark and method.
/// <see cref="MeanCeilingCostSaved"/> is the same for both methods of a chain: what the best single
/// first>top threshold chosen on each evaluation half itself saves (see <see cref="RouteEvaluation.InSampleCeiling"/>).
/// <see cref="CommonChain"/> is the sub-chain the fits chose most often, <see cref="CommonChainShare"/> the share of splits that chose it.
/// </summary>
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
    double ViolationRate,
    double MeanCeilingCostSaved,
    string CommonChain,
    double CommonChainShare);

/// <summary>
/// How risk guarantees are tested: pool a benchmark's queries (every split the file has), draw R
/// random 50/50 splits into calibration and evaluation, fit on calibration, measure on evaluation,
/// and count the splits whose accuracy loss versus the top model exceeded eps (must be at most delta).
/// </summary>
public static class RouteEvaluation
{
    public static IReadOnlyList<RouteEvaluationRow> Evaluate(ChainData data, string benchmark, int splits, double epsilon, double delta, int seed)
    {
        var results = new (Fitted Risk, Fitted Baseline, double Ceiling)[splits];
        Parallel.For(0, splits, r =>
        {
            var order = Enumerable.Range(0, data.Queries).ToArray();
            new Random(seed + r).Shuffle(order);
            var calibration = order[..(order.Length / 2)];
            var evaluation = order[(order.Length / 2)..];
            var risk = ThresholdFitter.FitRiskBounded(data, calibration, epsilon, delta);
            var baseline = ThresholdFitter.FitBaseline(data, calibration, epsilon, delta);
            results[r] = (
                new Fitted(risk.Replay(data, evaluation), risk.Chain),
                new Fitted(baseline.Replay(data, evaluation), baseline.Chain),
                InSampleCeiling(data, evaluation, epsilon));
        });

        var ceiling = results.Average(r => r.Ceiling);
        return
        [
            Row(benchmark, data.Chain, "baseline: first>top, CP", [.. results.Select(r => r.Baseline)], epsilon, ceiling),
            Row(benchmark, data.Chain, "risk-bounded (LTT)", [.. results.Select(r => r.Risk)], epsilon, ceiling),
        ];
    }

    /// <summary>
    /// The cost saved by the best single first>top threshold chosen on <paramref name="rows"/>
    /// themselves: the cheapest whose accuracy loss versus the top model on those rows is at most
    /// eps, or "top model only" (0) when none is cheaper. An upper limit no honest method reaches,
    /// shown so a user sees how far a policy is from what its signal allows.
    /// </summary>
    public static double InSampleCeiling(ChainData data, IReadOnlyList<int> rows, double epsilon)
    {
        var top = data.Stages - 1;
        var byConfidence = rows.OrderByDescending(i => data.Confidence[i, 0]).ToArray();
        var topCost = rows.Sum(i => data.CostUsd[i, top]);
        var cost = rows.Sum(i => data.EscalationCostUsd[i, 0]) + topCost;
        var best = topCost;
        var loss = 0;
        for (var k = 0; k < byConfidence.Length; k++)
        {
            var i = byConfidence[k];
            cost += data.CostUsd[i, 0] - data.EscalationCostUsd[i, 0] - data.CostUsd[i, top];
            loss += (data.Correct[i, top] ? 1 : 0) - (data.Correct[i, 0] ? 1 : 0);
            var endOfTiedBlock = k + 1 == byConfidence.Length || data.Confidence[byConfidence[k + 1], 0] < data.Confidence[i, 0];
            if (endOfTiedBlock && loss <= epsilon * rows.Count && cost < best)
            {
                best = cost;
            }
        }

        return topCost > 0 ? 1 - best / topCost : 0;
    }

    /// <summary>The chains and benchmarks of the acceptance table.</summary>
    public static IReadOnlyList<string[]> AcceptanceChains { get; } =
    [
        ["llama3.1-8b", "llama3.1-70b", "llama3.1-405b"],
        ["llama3.1-70b", "llama3.1-405b"],
        ["gpt-4o-mini", "gpt-4o"],
        ["llama3.2-3b", "gpt-4o-mini", "llama3.1-70b", "gpt-4o"],
    ];

    /// <summary>Every benchmark of the traces, whatever splits it has: the queries of all its splits are pooled.</summary>
    public static IReadOnlyList<string> Benchmarks(IEnumerable<CascadeTrace> traces) =>
        [.. traces.Select(t => t.Benchmark).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>Escalation rates are per model of the full chain: the share of all queries sent to it and escalated past it (0 when a fit skipped it).</summary>
    private static RouteEvaluationRow Row(string benchmark, IReadOnlyList<string> chain, string method, Fitted[] fits, double epsilon, double ceiling)
    {
        var outcomes = fits.Select(f => f.Outcome).ToArray();
        var common = fits.GroupBy(f => string.Join(">", f.Chain), StringComparer.Ordinal).MaxBy(g => g.Count())!;
        return new RouteEvaluationRow(
            benchmark,
            string.Join(">", chain),
            method,
            outcomes.Length,
            outcomes[0].Queries,
            outcomes.Average(o => o.TopAccuracy),
            outcomes.Average(o => o.AccuracyChange),
            outcomes.Average(o => o.CostSaved),
            [.. chain.Take(chain.Count - 1).Select(model => fits.Average(f => f.Chain.ToList().IndexOf(model) is var s and >= 0 && s < f.Chain.Count - 1 ? f.Outcome.EscalationRate[s] : 0))],
            outcomes.Count(o => -o.AccuracyChange > epsilon) / (double)outcomes.Length,
            ceiling,
            common.Key,
            common.Count() / (double)fits.Length);
    }

    private sealed record Fitted(CascadeOutcome Outcome, IReadOnlyList<string> Chain);
}
