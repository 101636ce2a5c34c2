using Router.Domain.Traces;

namespace Router.Domain.Policies;

/// <summary>
/// Labelled answers of every model of a chain to the same queries, as matrices [query, stage]:
/// what threshold fitting and replay work on. Confidences are probabilities kept below 1 so that a
/// threshold of 1 means "never accept".
/// </summary>
public sealed class ChainData
{
    public const double MaxConfidence = 1 - 1e-12;

    public ChainData(IReadOnlyList<string> chain, double[,] confidence, bool[,] correct, double[,] costUsd, double[,] latencyMs)
    {
        Chain = chain;
        Confidence = confidence;
        Correct = correct;
        CostUsd = costUsd;
        LatencyMs = latencyMs;
    }

    public IReadOnlyList<string> Chain { get; }

    public double[,] Confidence { get; }

    public bool[,] Correct { get; }

    public double[,] CostUsd { get; }

    public double[,] LatencyMs { get; }

    public int Queries => Confidence.GetLength(0);

    public int Stages => Chain.Count;

    /// <summary>The same queries with only the given stages (in order), e.g. a sub-chain that skips a model.</summary>
    public ChainData Select(IReadOnlyList<int> stages)
    {
        var n = Queries;
        var data = new ChainData([.. stages.Select(s => Chain[s])], new double[n, stages.Count], new bool[n, stages.Count], new double[n, stages.Count], new double[n, stages.Count]);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < stages.Count; j++)
            {
                data.Confidence[i, j] = Confidence[i, stages[j]];
                data.Correct[i, j] = Correct[i, stages[j]];
                data.CostUsd[i, j] = CostUsd[i, stages[j]];
                data.LatencyMs[i, j] = LatencyMs[i, stages[j]];
            }
        }

        return data;
    }

    /// <summary>Every sub-chain that ends at the top model and has at least two models, the full chain first.</summary>
    public IReadOnlyList<int[]> SubChains()
    {
        var top = Stages - 1;
        var result = new List<int[]>();
        for (var mask = (1 << top) - 1; mask >= 1; mask--)
        {
            result.Add([.. Enumerable.Range(0, top).Where(s => (mask & (1 << s)) != 0), top]);
        }

        return result;
    }

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
    public static CascadeOutcome Run(ChainData data, IReadOnlyList<double> thresholds, IReadOnlyList<int> rows)
    {
        var m = data.Stages;
        var top = m - 1;
        int correct = 0, topCorrect = 0, lost = 0, gained = 0;
        double cost = 0, topCost = 0, latency = 0;
        var escalated = new int[Math.Max(1, m - 1)];
        foreach (var i in rows)
        {
            var stage = 0;
            while (stage < top && data.Confidence[i, stage] < thresholds[stage])
            {
                cost += data.CostUsd[i, stage];
                latency += data.LatencyMs[i, stage];
                escalated[stage]++;
                stage++;
            }

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
