using System.Text.Json.Serialization;
using Router.Domain.Routing;

namespace Router.Domain.Policies;

/// <summary>What the router does with a stage's answer.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PolicyDecision>))]
public enum PolicyDecision
{
    [JsonStringEnumMemberName("accept")]
    Accept,

    [JsonStringEnumMemberName("escalate")]
    Escalate,

    /// <summary>Stop escalating and answer with this stage (a budget or latency bound is spent), or give up after the last stage failed.</summary>
    [JsonStringEnumMemberName("stop")]
    Stop,
}

/// <summary>Limits a request may set; each narrows what the policy allows.</summary>
public sealed record RequestLimits(double? MaxCostUsd = null, double? MaxLatencyMs = null, double? MinConfidence = null);

/// <summary>A decision with its machine-readable reason and the threshold it compared against.</summary>
public sealed record StageVerdict(PolicyDecision Decision, StageReason Reason, double Threshold);

/// <summary>
/// Accept at stage s when the calibrated P(correct) reaches tau_s (or the request's higher
/// min_confidence), else escalate, unless the request's budget or latency bound is spent, in
/// which case stop with the current answer. The last stage always answers. A stage with an
/// <see cref="AbortRule"/> may also be cut short while it generates (early escalation).
/// </summary>
public sealed record EscalationPolicy(IReadOnlyList<string> Chain, IReadOnlyList<double> Thresholds)
{
    /// <summary>Early escalation per stage but the last; null: no stage aborts.</summary>
    public IReadOnlyList<AbortRule>? AbortRules { get; init; }

    /// <summary>Checks the shape: at least one model, one threshold per stage but the last, thresholds in [0, 1].</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Chain.Count == 0)
        {
            problems.Add("chain: needs at least one model.");
        }

        if (Chain.Distinct(StringComparer.Ordinal).Count() != Chain.Count)
        {
            problems.Add("chain: a model appears twice.");
        }

        if (Thresholds.Count != Math.Max(0, Chain.Count - 1))
        {
            problems.Add($"thresholds: needs {Math.Max(0, Chain.Count - 1)} (one per stage but the last); got {Thresholds.Count}.");
        }

        for (var i = 0; i < Thresholds.Count; i++)
        {
            if (double.IsNaN(Thresholds[i]) || Thresholds[i] is < 0 or > 1)
            {
                problems.Add($"thresholds:{i}: must be in [0, 1]; got {Thresholds[i]}.");
            }
        }

        problems.AddRange(AbortRule.Problems(AbortRules, Chain.Count));
        return problems;
    }

    /// <summary>The abort rule of <paramref name="stage"/>; <see cref="AbortRule.None"/> for the last stage and wherever the policy has none.</summary>
    public AbortRule AbortRuleFor(int stage) => stage == Chain.Count - 1 ? AbortRule.None : AbortRule.ForStage(AbortRules, stage);

    public StageVerdict Decide(int stage, double pCorrect, double spentUsd, double elapsedMs, RequestLimits limits, double nextStageCostUsd)
    {
        if (stage < 0 || stage >= Chain.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(stage), $"stage must be between 0 and {Chain.Count - 1}; got {stage}.");
        }

        if (stage == Chain.Count - 1)
        {
            return new StageVerdict(PolicyDecision.Accept, StageReason.LastStage, 0);
        }

        var threshold = Thresholds[stage];
        var effective = Math.Max(threshold, limits.MinConfidence ?? 0);
        if (pCorrect >= effective)
        {
            return new StageVerdict(PolicyDecision.Accept, StageReason.ConfidenceAboveThreshold, effective);
        }

        if (limits.MaxCostUsd is { } maxCost && spentUsd + nextStageCostUsd > maxCost)
        {
            return new StageVerdict(PolicyDecision.Stop, StageReason.BudgetExhausted, effective);
        }

        if (limits.MaxLatencyMs is { } maxLatency && elapsedMs >= maxLatency)
        {
            return new StageVerdict(PolicyDecision.Stop, StageReason.LatencyExhausted, effective);
        }

        return new StageVerdict(PolicyDecision.Escalate, pCorrect >= threshold ? StageReason.BelowMinConfidence : StageReason.ConfidenceBelowThreshold, effective);
    }
}
