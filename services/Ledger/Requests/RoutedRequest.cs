namespace Router.Ledger.Requests;

/// <summary>One request the router answered (or failed to), with what it cost and what the top model alone would have cost.</summary>
public sealed class RoutedRequest
{
    /// <summary>The request id returned to the caller (chatcmpl-...); the idempotency key of the ledger writer.</summary>
    public required string Id { get; set; }

    public Guid? TeamId { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

    public required string Policy { get; set; }

    public required string PolicyVersion { get; set; }

    public required string Mode { get; set; }

    public string? FinalModel { get; set; }

    /// <summary>Calibrator of the accepted answer, as name@version; null when the answer was scored uncalibrated.</summary>
    public string? CalibratorVersion { get; set; }

    public double? Confidence { get; set; }

    public double LatencyMs { get; set; }

    /// <summary>Every attempt's cost, discarded drafts included.</summary>
    public decimal CostUsd { get; set; }

    public decimal CounterfactualCostUsd { get; set; }

    public int Stages { get; set; }

    public bool Simulated { get; set; }

    /// <summary>Why no answer was returned; null for answered requests.</summary>
    public string? Error { get; set; }

    public List<RoutingAttempt> Attempts { get; set; } = [];
}

/// <summary>One stage of a request: a model's answer, its signals, and the policy's decision on it.</summary>
public sealed class RoutingAttempt
{
    public required string RequestId { get; set; }

    /// <summary>Order of the attempt within the request (0 = first tried).</summary>
    public int Attempt { get; set; }

    /// <summary>Position of the model in the policy's chain (0 = cheapest).</summary>
    public int Stage { get; set; }

    public required string Model { get; set; }

    public int PromptTokens { get; set; }

    public int CompletionTokens { get; set; }

    /// <summary>What the stage cost: its answer plus <see cref="ExtraCostUsd"/>.</summary>
    public decimal CostUsd { get; set; }

    /// <summary>The signal recipe the stage's confidence was read with; null for rows written before recipes.</summary>
    public string? Recipe { get; set; }

    /// <summary>
    /// Tokens and cost of the model calls the recipe made besides the answer (verification prompts,
    /// samples); <see cref="PromptTokens"/> and <see cref="CompletionTokens"/> are the answer's own.
    /// </summary>
    public int ExtraPromptTokens { get; set; }

    public int ExtraCompletionTokens { get; set; }

    public decimal ExtraCostUsd { get; set; }

    /// <summary>The extra calls per kind (kind, calls, tokens, cost, time), as JSON.</summary>
    public string ExtraCalls { get; set; } = "[]";

    public double LatencyMs { get; set; }

    /// <summary>Every raw signal by name, as JSON.</summary>
    public string Signals { get; set; } = "{}";

    public double? Confidence { get; set; }

    public bool Calibrated { get; set; }

    public string? CalibratorVersion { get; set; }

    public string? Decision { get; set; }

    public string? Reason { get; set; }

    public double? Threshold { get; set; }

    public bool Discarded { get; set; }

    /// <summary>Early escalation: the running group confidence that fell below the stage's abort threshold; null when the draft was not cancelled.</summary>
    public double? AbortGroupConfidence { get; set; }

    /// <summary>Early escalation: the token at which the draft was cancelled (its completion tokens are those generated until then).</summary>
    public int? AbortedAtToken { get; set; }

    public string? Error { get; set; }
}

/// <summary>A caller's verdict on an answer: feeds calibration and policy refits.</summary>
public sealed class FeedbackLabel
{
    public required string RequestId { get; set; }

    public bool? Correct { get; set; }

    /// <summary>A graded verdict in [0, 1], when the caller scores rather than labels.</summary>
    public double? Score { get; set; }

    public Guid? TeamId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
