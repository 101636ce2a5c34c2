using Router.Domain.Policies;

namespace Router.Domain.Evaluation;

/// <summary>
/// Means over random calibration/evaluation splits of one chain: the risk-bounded policy fitted
/// with abort rules ("early") against the risk-bounded policy fitted on the same calibration half
/// without them ("without": the policy as it is fitted today, to the same eps and delta). Per request: tokens generated (aborted drafts up to
/// the cut), cost, and time to the final answer (every attempt one after the other). Escalated
/// requests are those either version escalated past their first stage; their time to answer is
/// what early escalation is for. <see cref="ViolationRate"/> is the share of splits whose early
/// policy lost more than eps accuracy versus the top model on the evaluation half (must stay at or
/// below delta); <see cref="ViolationRateWithout"/> the same for the version without aborts.
/// </summary>
public sealed record EarlyEscalationRow(
    string Chain,
    int Splits,
    int Queries,
    double TopAccuracy,
    double AccuracyWithout,
    double AccuracyEarly,
    double AbortedShare,
    double EscalatedShare,
    double TokensWithout,
    double TokensEarly,
    double CostUsdWithout,
    double CostUsdEarly,
    double MeanMsWithout,
    double MeanMsEarly,
    double EscalatedMeanMsWithout,
    double EscalatedMeanMsEarly,
    double EscalatedMedianMsWithout,
    double EscalatedMedianMsEarly,
    double ViolationRate,
    double ViolationRateWithout,
    double SplitsWithAbortRules,
    string CommonPolicy,
    double CommonPolicyShare)
{
    public double AccuracyChange => AccuracyEarly - AccuracyWithout;

    public double TokensSaved => Saved(TokensWithout, TokensEarly);

    public double CostSaved => Saved(CostUsdWithout, CostUsdEarly);

    public double MeanTimeSaved => Saved(MeanMsWithout, MeanMsEarly);

    public double EscalatedMeanTimeSaved => Saved(EscalatedMeanMsWithout, EscalatedMeanMsEarly);

    public double EscalatedMedianTimeSaved => Saved(EscalatedMedianMsWithout, EscalatedMedianMsEarly);

    private static double Saved(double without, double early) => without > 0 ? 1 - early / without : 0;
}

/// <summary>
/// How early escalation is measured (<c>router eval early</c>): draw R random 50/50 splits of the
/// chain's queries, fit the risk-bounded policy on the calibration half with abort rules and
/// without (<see cref="ThresholdFitter.FitRiskBounded"/> on the token-level data, and on the same
/// data without tokens), and replay both on the evaluation half. Per-request figures are means per query; the escalated requests'
/// median is taken per split and then averaged.
/// </summary>
public static class EarlyEscalationEvaluation
{
    public static EarlyEscalationRow Evaluate(ChainData data, int splits, double epsilon, double delta, int seed)
    {
        if (data.Drafts is null)
        {
            throw new ArgumentException("early escalation is evaluated on token-level data (ChainData.FromTokenTraces).", nameof(data));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(splits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(data.Queries, 2);
        var withoutTokens = new ChainData(data.Chain, data.Confidence, data.Correct, data.CostUsd, data.LatencyMs, data.EscalationCostUsd, data.EscalationLatencyMs);
        var results = new Split[splits];
        Parallel.For(0, splits, r =>
        {
            var order = Enumerable.Range(0, data.Queries).ToArray();
            new Random(seed + r).Shuffle(order);
            var calibration = order[..(order.Length / 2)];
            var evaluation = order[(order.Length / 2)..];
            var early = ThresholdFitter.FitRiskBounded(data, calibration, epsilon, delta);
            var without = ThresholdFitter.FitRiskBounded(withoutTokens, calibration, epsilon, delta);
            results[r] = Measure(data, early, without, evaluation);
        });

        var common = results.GroupBy(r => r.Policy, StringComparer.Ordinal).MaxBy(g => g.Count())!;
        return new EarlyEscalationRow(
            string.Join(">", data.Chain),
            splits,
            data.Queries - data.Queries / 2,
            results.Average(r => r.TopAccuracy),
            results.Average(r => r.Without.Accuracy),
            results.Average(r => r.Early.Accuracy),
            results.Average(r => r.AbortedShare),
            results.Average(r => r.EscalatedShare),
            results.Average(r => r.Without.Tokens),
            results.Average(r => r.Early.Tokens),
            results.Average(r => r.Without.CostUsd),
            results.Average(r => r.Early.CostUsd),
            results.Average(r => r.Without.MeanMs),
            results.Average(r => r.Early.MeanMs),
            results.Average(r => r.Without.EscalatedMeanMs),
            results.Average(r => r.Early.EscalatedMeanMs),
            results.Average(r => r.Without.EscalatedMedianMs),
            results.Average(r => r.Early.EscalatedMedianMs),
            results.Count(r => r.TopAccuracy - r.Early.Accuracy > epsilon) / (double)splits,
            results.Count(r => r.TopAccuracy - r.Without.Accuracy > epsilon) / (double)splits,
            results.Count(r => r.HasAbortRules) / (double)splits,
            common.Key,
            common.Count() / (double)splits);
    }

    /// <summary>How the two fitted policies did on <paramref name="rows"/>.</summary>
    private static Split Measure(ChainData data, ThresholdFit earlyFit, ThresholdFit withoutFit, IReadOnlyList<int> rows)
    {
        var early = Replay(data, earlyFit, rows);
        var without = Replay(data, withoutFit, rows);
        var escalated = Enumerable.Range(0, rows.Count).Where(k => early[k].Escalated || without[k].Escalated).ToArray();
        var top = data.Stages - 1;
        var rule = earlyFit.AbortRules is { Count: > 0 } rules ? $", abort below {rules[0].Threshold:0.##}" : string.Empty;
        return new Split(
            rows.Average(i => data.Correct[i, top] ? 1.0 : 0.0),
            Replayed.Of(without, escalated),
            Replayed.Of(early, escalated),
            early.Count(q => q.AbortedAt != 0) / (double)rows.Count,
            escalated.Length / (double)rows.Count,
            earlyFit.AbortRules is not null,
            $"{string.Join(">", earlyFit.Chain)}{rule}");
    }

    private static RoutedQuery[] Replay(ChainData data, ThresholdFit fit, IReadOnlyList<int> rows)
    {
        var stages = fit.Stages(data);
        return [.. rows.Select(i => CascadeReplay.Route(data, stages, fit.Thresholds, fit.AbortRules, i))];
    }

    private sealed record Split(double TopAccuracy, Replayed Without, Replayed Early, double AbortedShare, double EscalatedShare, bool HasAbortRules, string Policy);

    private sealed record Replayed(double Accuracy, double Tokens, double CostUsd, double MeanMs, double EscalatedMeanMs, double EscalatedMedianMs)
    {
        public static Replayed Of(RoutedQuery[] queries, int[] escalated)
        {
            var times = escalated.Select(k => queries[k].LatencyMs).Order().ToArray();
            return new Replayed(
                queries.Average(q => q.Correct ? 1.0 : 0.0),
                queries.Average(q => (double)q.Tokens),
                queries.Average(q => q.CostUsd),
                queries.Average(q => q.LatencyMs),
                times.Length == 0 ? 0 : times.Average(),
                times.Length == 0 ? 0 : Median(times));
        }

        private static double Median(double[] sorted) =>
            sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
