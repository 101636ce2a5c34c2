using Router.Domain.Signals;
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

    /// <summary>The answers' tokens, when the traces carry them: what abort rules are fitted and replayed on.</summary>
    public DraftProfiles? Drafts { get; init; }

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

    /// <summary>
    /// Joins token-level traces on their query id for the chain's models; queries missing any model
    /// are left out. The confidence is the trace's <see cref="TokenTrace.Confidence"/>, else exp(mean
    /// token log-prob); the drafts are profiled for abort rules of <paramref name="window"/> and
    /// <paramref name="minTokens"/>. A trace lacking what this needs throws naming the model, query and field.
    /// </summary>
    public static ChainData FromTokenTraces(IEnumerable<TokenTrace> traces, IReadOnlyList<string> chain, int window, int minTokens)
    {
        var byQuery = new Dictionary<string, Dictionary<string, TokenTrace>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var trace in traces.Where(t => chain.Contains(t.Model)))
        {
            var id = trace.QueryId ?? throw new FormatException($"a trace of {trace.Model} has no query_id: token-level evaluation joins the models of a chain on it.");
            if (!byQuery.TryGetValue(id, out var models))
            {
                byQuery[id] = models = new Dictionary<string, TokenTrace>(StringComparer.Ordinal);
                order.Add(id);
            }

            models.TryAdd(trace.Model, trace);
        }

        var complete = order.Where(id => chain.All(byQuery[id].ContainsKey)).ToList();
        var n = complete.Count;
        var m = chain.Count;
        var topLogprobs = complete.SelectMany(id => byQuery[id].Values).SelectMany(t => t.Tokens ?? []).Select(t => t.TopLogprobs?.Count ?? 0).DefaultIfEmpty(0).Max();
        var drafts = new DraftProfiles(n, m, window, minTokens, topLogprobs);
        var data = new ChainData(chain, new double[n, m], new bool[n, m], new double[n, m], new double[n, m]) { Drafts = drafts };
        for (var i = 0; i < n; i++)
        {
            for (var s = 0; s < m; s++)
            {
                var trace = byQuery[complete[i]][chain[s]];
                var tokens = trace.Tokens is { Count: > 0 } t ? t : throw Missing(trace, "tokens");
                var outputPrice = trace.OutputUsdPerMillionTokens ?? throw Missing(trace, "output_usd_per_million_tokens");
                var promptCost = (trace.Usage ?? throw Missing(trace, "usage")).PromptTokens * (trace.InputUsdPerMillionTokens ?? throw Missing(trace, "input_usd_per_million_tokens")) / 1e6;
                drafts.Tokens[i, s] = tokens.Count;
                drafts.PromptCostUsd[i, s] = promptCost;
                drafts.UsdPerToken[i, s] = outputPrice / 1e6;
                drafts.FirstTokenMs[i, s] = trace.TimeToFirstTokenMs ?? throw Missing(trace, "time_to_first_token_ms");
                drafts.MsPerToken[i, s] = trace.MsPerToken ?? throw Missing(trace, "ms_per_token");
                var attempt = trace.Attempt();
                drafts.Profile(i, s, attempt);
                data.Confidence[i, s] = Math.Min(trace.Confidence ?? Math.Exp(TokenSignals.MeanLogprob(attempt.Logprobs)), MaxConfidence);
                data.Correct[i, s] = trace.Correct ?? throw Missing(trace, "correct");
                data.CostUsd[i, s] = trace.CostUsd ?? drafts.CostUsd(i, s, tokens.Count);
                data.LatencyMs[i, s] = drafts.ElapsedMs(i, s, tokens.Count);
            }
        }

        return data;
    }

    private static FormatException Missing(TokenTrace trace, string field) =>
        new($"the trace of {trace.Model} for query {trace.QueryId} has no {field}: token-level evaluation needs it.");
}

/// <summary>What a cascade with given thresholds did on a set of queries.</summary>
public sealed record CascadeOutcome(int Queries, int Correct, int TopCorrect, int LostToTop, int GainedOverTop, double CostUsd, double TopCostUsd, double LatencyMs, IReadOnlyList<double> EscalationRate)
{
    /// <summary>Tokens generated, aborted drafts included; 0 without token-level data.</summary>
    public long Tokens { get; init; }

    /// <summary>Per stage but the last: the share of the queries whose draft there was aborted (escalations include them).</summary>
    public IReadOnlyList<double> AbortRate { get; init; } = [];

    public double Accuracy => Correct / (double)Queries;

    public double TopAccuracy => TopCorrect / (double)Queries;

    /// <summary>Accuracy of the cascade minus the top model's, in points of accuracy (fractions).</summary>
    public double AccuracyChange => Accuracy - TopAccuracy;

    public double CostSaved => TopCostUsd > 0 ? 1 - CostUsd / TopCostUsd : 0;

    public double UsdPer1kQueries => CostUsd / Queries * 1000;

    public double MeanLatencyMs => LatencyMs / Queries;
}

/// <summary>
/// What one query did in a replayed cascade: the position among the replayed stages that answered,
/// whether that answer was right, what every attempt cost and took in total (aborted drafts up to
/// their abort, one after the other), the tokens generated, and the positions whose draft was
/// aborted (bit p set for position p).
/// </summary>
public readonly record struct RoutedQuery(int AnsweredAt, bool Correct, double CostUsd, double LatencyMs, int Tokens, int AbortedAt)
{
    public bool Escalated => AnsweredAt > 0;
}

/// <summary>
/// Replays a chain with thresholds over labelled answers: the first stage whose confidence reaches
/// its threshold answers. With abort rules (and token-level data), a stage whose draft the rule cuts
/// is paid up to the cut and escalates at once, whatever its final confidence would have been.
/// </summary>
public static class CascadeReplay
{
    public static CascadeOutcome Run(ChainData data, IReadOnlyList<double> thresholds, IReadOnlyList<int> rows) =>
        Run(data, [.. Enumerable.Range(0, data.Stages)], thresholds, rows);

    /// <summary>The same over <paramref name="stages"/> of the data (indices, cheapest first, ending at its top model), without copying them out; <paramref name="abortRules"/> per position but the last.</summary>
    public static CascadeOutcome Run(ChainData data, IReadOnlyList<int> stages, IReadOnlyList<double> thresholds, IReadOnlyList<int> rows, IReadOnlyList<AbortRule>? abortRules = null)
    {
        var last = stages.Count - 1;
        var top = stages[last];
        int correct = 0, topCorrect = 0, lost = 0, gained = 0;
        double cost = 0, topCost = 0, latency = 0;
        long tokens = 0;
        var escalated = new int[Math.Max(1, last)];
        var aborted = new int[Math.Max(1, last)];
        foreach (var i in rows)
        {
            var routed = Route(data, stages, thresholds, abortRules, i);
            for (var position = 0; position < routed.AnsweredAt; position++)
            {
                escalated[position]++;
                aborted[position] += (routed.AbortedAt >> position) & 1;
            }

            cost += routed.CostUsd;
            latency += routed.LatencyMs;
            tokens += routed.Tokens;
            topCost += data.CostUsd[i, top];
            var topRight = data.Correct[i, top];
            correct += routed.Correct ? 1 : 0;
            topCorrect += topRight ? 1 : 0;
            lost += topRight && !routed.Correct ? 1 : 0;
            gained += !topRight && routed.Correct ? 1 : 0;
        }

        return new CascadeOutcome(rows.Count, correct, topCorrect, lost, gained, cost, topCost, latency, [.. escalated.Select(e => e / (double)rows.Count)])
        {
            Tokens = tokens,
            AbortRate = [.. aborted.Select(a => a / (double)rows.Count)],
        };
    }

    /// <summary>One query through <paramref name="stages"/> of the data.</summary>
    public static RoutedQuery Route(ChainData data, IReadOnlyList<int> stages, IReadOnlyList<double> thresholds, IReadOnlyList<AbortRule>? abortRules, int query)
    {
        var last = stages.Count - 1;
        var drafts = data.Drafts;
        double cost = 0, latency = 0;
        int tokens = 0, abortedAt = 0;
        for (var position = 0; ; position++)
        {
            var stage = stages[position];
            var rule = position == last ? AbortRule.None : AbortRule.ForStage(abortRules, position);
            var cut = rule.IsNone ? 0 : (drafts ?? throw new InvalidOperationException("abort rules replay only on token-level data (ChainData.FromTokenTraces).")).AbortsAt(query, stage, rule);
            if (cut > 0)
            {
                cost += drafts!.CostUsd(query, stage, cut);
                latency += drafts.ElapsedMs(query, stage, cut);
                tokens += cut;
                abortedAt |= 1 << position;
                continue;
            }

            tokens += drafts?.Tokens[query, stage] ?? 0;
            if (position == last || data.Confidence[query, stage] >= thresholds[position])
            {
                return new RoutedQuery(position, data.Correct[query, stage], cost + data.CostUsd[query, stage], latency + data.LatencyMs[query, stage], tokens, abortedAt);
            }

            cost += data.EscalationCostUsd[query, stage];
            latency += data.EscalationLatencyMs[query, stage];
        }
    }
}
