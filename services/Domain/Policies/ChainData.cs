using Router.Domain.Traces;

namespace Router.Domain.Policies;

/// <summary>
/// Labelled answers of every model of a chain to the same queries, as matrices [query, stage]:
/// what threshold fitting and replay work on. Confidences are probabilities kept below 1 so that a
/// threshold of 1 means "never accept". <see cref="CostUsd"/> and <see cref="LatencyMs"/> are what a
/// stage costs when it answers; <see cref="EscalationCostUsd"/> and <see cref="EscalationLatencyMs"/>
/// what it costs when it escalates, the same unless the stage's signal is known before the model
/// answers (P(IK): a low one escalates without generating).
/// </summary>
public sealed class ChainData
{
    public const double MaxConfidence = 1 - 1e-12;

    public ChainData(IReadOnlyList<string> chain, double[,] confidence, bool[,] correct, double[,] costUsd, double[,] latencyMs)
        : this(chain, confidence, correct, costUsd, latencyMs, costUsd, latencyMs)
    {
    }

    public ChainData(IReadOnlyList<string> chain, double[,] confidence, bool[,] correct, double[,] costUsd, double[,] latencyMs, double[,] escalationCostUsd, double[,] escalationLatencyMs)
    {
        Chain = chain;
        Confidence = confidence;
        Correct = correct;
        CostUsd = costUsd;
        LatencyMs = latencyMs;
        EscalationCostUsd = escalationCostUsd;
        EscalationLatencyMs = escalationLatencyMs;
    }

    public IReadOnlyList<string> Chain { get; }

    public double[,] Confidence { get; }

    public bool[,] Correct { get; }

    public double[,] CostUsd { get; }

    public double[,] LatencyMs { get; }

    public double[,] EscalationCostUsd { get; }

    public double[,] EscalationLatencyMs { get; }

    public int Queries => Confidence.GetLength(0);

    public int Stages => Chain.Count;

    /// <summary>
    /// Joins traces on (split, query) for the chain's models of one benchmark; queries missing any
    /// model are left out. The confidence is exp(raw log-prob) unless a function is given (e.g. a calibrator).
    /// </summary>
    public static ChainData FromTraces(IEnumerable<CascadeTrace> traces, string benchmark, IReadOnlyList<string> chain, Func<CascadeTrace, double>? confidence = null)
    {
        var probability = confidence ?? (t => t.RawProbability);
        var byQuery = traces
            .Where(t => t.Benchmark == benchmark && chain.Contains(t.Model))
            .GroupBy(t => (t.Split, t.QueryIndex))
            .Select(g => g.ToDictionary(t => t.Model))
            .Where(models => chain.All(models.ContainsKey))
            .ToList();
        var n = byQuery.Count;
        var m = chain.Count;
        var data = new ChainData(chain, new double[n, m], new bool[n, m], new double[n, m], new double[n, m]);
        for (var i = 0; i < n; i++)
        {
            for (var s = 0; s < m; s++)
            {
                var trace = byQuery[i][chain[s]];
                data.Confidence[i, s] = Math.Min(probability(trace), MaxConfidence);
                data.Correct[i, s] = trace.Correct;
                data.CostUsd[i, s] = trace.CostUsd;
                data.LatencyMs[i, s] = trace.LatencyMs;
            }
        }

        return data;
    }
}

/// <summary>What a cascade with given thresholds did on a set of queries.</summary>
public sealed record CascadeOutcome(int Queries, int Correct, int TopCorrect, int LostToTop, int GainedOverTop, double CostUsd, double TopCostUsd, double LatencyMs, IReadOnlyList<double> EscalationRate)
{
    public double Accuracy => Correct / (double)Queries;

    public double TopAccuracy => TopCorrect / (double)Queries;

    /// <summary>Accuracy of the cascade minus the top model's, in points of accuracy (fractions).</summary>
    public double AccuracyChange => Accuracy - TopAccuracy;

    public double CostSaved => TopCostUsd > 0 ? 1 - CostUsd / TopCostUsd : 0;

    public double UsdPer1kQueries => CostUsd / Queries * 1000;

    public double MeanLatencyMs => LatencyMs / Queries;
}

/// <summary>Replays a chain with thresholds over labelled answers: the first stage whose confidence reaches its threshold answers.</summary>
public static class CascadeReplay
{
    public static CascadeOutcome Run(ChainData data, IReadOnlyList<double> thresholds, IReadOnlyList<int> rows) =>
        Run(data, [.. Enumerable.Range(0, data.Stages)], thresholds, rows);

    /// <summary>The same over <paramref name="stages"/> of the data (indices, cheapest first, ending at its top model), without copying them out.</summary>
    public static CascadeOutcome Run(ChainData data, IReadOnlyList<int> stages, IReadOnlyList<double> thresholds, IReadOnlyList<int> rows)
    {
        var last = stages.Count - 1;
        var top = stages[last];
        int correct = 0, topCorrect = 0, lost = 0, gained = 0;
        double cost = 0, topCost = 0, latency = 0;
        var escalated = new int[Math.Max(1, last)];
        foreach (var i in rows)
        {
            var position = 0;
            while (position < last && data.Confidence[i, stages[position]] < thresholds[position])
            {
                cost += data.EscalationCostUsd[i, stages[position]];
                latency += data.EscalationLatencyMs[i, stages[position]];
                escalated[position]++;
                position++;
            }

            var stage = stages[position];
            cost += data.CostUsd[i, stage];
            latency += data.LatencyMs[i, stage];
            topCost += data.CostUsd[i, top];
            var right = data.Correct[i, stage];
            var topRight = data.Correct[i, top];
            correct += right ? 1 : 0;
            topCorrect += topRight ? 1 : 0;
            lost += topRight && !right ? 1 : 0;
            gained += !topRight && right ? 1 : 0;
        }

        return new CascadeOutcome(rows.Count, correct, topCorrect, lost, gained, cost, topCost, latency, [.. escalated.Select(e => e / (double)rows.Count)]);
    }
}
