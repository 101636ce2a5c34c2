using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Domain.Signals;

namespace Router.Gateway.Routing;

/// <summary>Everything the router did for one request: returned (as a <see cref="RouteResponse"/>) by POST /v1/route and written to the ledger.</summary>
public sealed class RoutingTrace
{
    public required string RequestId { get; init; }

    public required string Policy { get; init; }

    public required string PolicyVersion { get; set; }

    public required RoutingMode Mode { get; init; }

    /// <summary>The policy's whole chain, cheapest first; the stages tried may start later (pre-call, hybrid).</summary>
    public required IReadOnlyList<string> Chain { get; set; }

    /// <summary>Why the router departed from the plain cascade, e.g. a control service being unreachable.</summary>
    public List<string> Notes { get; } = [];

    public PreCallPrediction? PreCall { get; set; }

    /// <summary>The response cache's part: "hit", "miss" or "refresh"; null when the request was not cacheable or the cache is off.</summary>
    public string? Cache { get; set; }

    public List<AttemptTrace> Attempts { get; } = [];

    public string? FinalModel { get; set; }

    public string? Answer { get; set; }

    public decimal CostUsd => Attempts.Sum(a => a.CostUsd);

    public decimal CounterfactualCostUsd { get; set; }

    public double LatencyMs { get; set; }

    /// <summary>Milliseconds spent in each hop (response_cache, policy, classifier, worker, recipe_calls, scoring, ledger_journal), summed over stages.</summary>
    public Dictionary<string, double> HopsMs { get; } = new(StringComparer.Ordinal);

    public void AddHop(string hop, double milliseconds) => HopsMs[hop] = HopsMs.GetValueOrDefault(hop) + milliseconds;

    public bool Simulated => Attempts.Any(a => a.Simulated);

    [System.Text.Json.Serialization.JsonIgnore]
    public AttemptTrace? Accepted => Attempts.LastOrDefault(a => a.Decision is PolicyDecision.Accept or PolicyDecision.Stop && !a.Discarded && a.Error is null);
}

public sealed record PreCallPrediction(
    string ClassifierVersion,
    bool Fallback,
    string? FallbackReason,
    IReadOnlyDictionary<string, double> ProbabilityCorrect,
    string StartModel);

public sealed class AttemptTrace
{
    public required int Stage { get; init; }

    public required string Model { get; init; }

    public string? Text { get; set; }

    /// <summary>The answer's own tokens; the recipe's extra calls are in <see cref="ExtraCalls"/>.</summary>
    public int PromptTokens { get; set; }

    public int CompletionTokens { get; set; }

    /// <summary>What the stage cost: its answer plus its recipe's extra calls.</summary>
    public decimal CostUsd { get; set; }

    /// <summary>The signal recipe the stage's confidence was read with (e.g. "p_true", "agreement[m=5]").</summary>
    public string? Recipe { get; set; }

    /// <summary>The model calls the recipe made besides the answer, per kind, with their tokens, cost and time.</summary>
    public List<ExtraCallUsage> ExtraCalls { get; } = [];

    public double LatencyMs { get; set; }

    public bool Simulated { get; set; }

    public string? FinishReason { get; set; }

    public Dictionary<string, double> Signals { get; } = new(16);

    public double? Confidence { get; set; }

    public string? CalibratorVersion { get; set; }

    /// <summary>False when Scoring was unreachable and the confidence is the raw exp(mean log-prob).</summary>
    public bool Calibrated { get; set; }

    public PolicyDecision? Decision { get; set; }

    public StageReason? Reason { get; set; }

    public string? ReasonText { get; set; }

    public double? Threshold { get; set; }

    /// <summary>An answer that was generated, paid for and then not used because the router escalated.</summary>
    public bool Discarded { get; set; }

    /// <summary>Early escalation: the running group confidence that fell below the abort threshold, when the draft was cancelled.</summary>
    public double? AbortGroupConfidence { get; set; }

    /// <summary>Early escalation: the token at which the draft was cancelled.</summary>
    public int? AbortedAtToken { get; set; }

    /// <summary>Why the stage failed (worker down, timed out, malformed output); the router then fails over.</summary>
    public string? Error { get; set; }

    /// <summary>Takes the router's decision on this stage.</summary>
    public void Apply(StageRecord record)
    {
        (Decision, Reason, Threshold, Discarded) = (record.Decision, record.Reason, record.Threshold, record.Discarded);
        ReasonText ??= record.Reason switch
        {
            StageReason.LastStage => "the last stage of the chain always answers",
            StageReason.FallbackAfterFailure => "every later stage failed; returning the most confident earlier answer",
            StageReason.PolicyUnavailable => "the policy could not be read; escalating keeps the top model's accuracy",
            _ => Error,
        };
    }
}
