using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Domain.Signals;

namespace Router.Gateway.Routing;

/// <summary>The body of POST /v1/route: the whole routing trace of one request, as the API publishes it.</summary>
public sealed record RouteResponse(
    string RequestId,
    string Policy,
    string PolicyVersion,
    RoutingMode Mode,
    IReadOnlyList<string> Chain,
    IReadOnlyList<string> Notes,
    PreCallPrediction? PreCall,
    string? Cache,
    IReadOnlyList<RouteAttempt> Attempts,
    string? FinalModel,
    string? Answer,
    decimal CostUsd,
    decimal CounterfactualCostUsd,
    double LatencyMs,
    IReadOnlyDictionary<string, double> HopsMs,
    bool Simulated)
{
    public static RouteResponse From(RoutingTrace trace) => new(
        trace.RequestId,
        trace.Policy,
        trace.PolicyVersion,
        trace.Mode,
        trace.Chain,
        trace.Notes,
        trace.PreCall,
        trace.Cache,
        [.. trace.Attempts.Select(RouteAttempt.From)],
        trace.FinalModel,
        trace.Answer,
        trace.CostUsd,
        trace.CounterfactualCostUsd,
        trace.LatencyMs,
        trace.HopsMs,
        trace.Simulated);
}

/// <summary>One stage of a route: the model's answer and usage, the recipe's extra calls, every signal, the confidence and what the router decided.</summary>
public sealed record RouteAttempt(
    int Stage,
    string Model,
    string? Text,
    int PromptTokens,
    int CompletionTokens,
    decimal CostUsd,
    string? Recipe,
    IReadOnlyList<ExtraCallUsage> ExtraCalls,
    double LatencyMs,
    bool Simulated,
    string? FinishReason,
    IReadOnlyDictionary<string, double> Signals,
    double? Confidence,
    string? CalibratorVersion,
    bool Calibrated,
    PolicyDecision? Decision,
    StageReason? Reason,
    string? ReasonText,
    double? Threshold,
    bool Discarded,
    string? Error,
    double? AbortGroupConfidence,
    int? AbortedAtToken)
{
    public static RouteAttempt From(AttemptTrace attempt) => new(
        attempt.Stage,
        attempt.Model,
        attempt.Text,
        attempt.PromptTokens,
        attempt.CompletionTokens,
        attempt.CostUsd,
        attempt.Recipe,
        attempt.ExtraCalls,
        attempt.LatencyMs,
        attempt.Simulated,
        attempt.FinishReason,
        attempt.Signals,
        attempt.Confidence,
        attempt.CalibratorVersion,
        attempt.Calibrated,
        attempt.Decision,
        attempt.Reason,
        attempt.ReasonText,
        attempt.Threshold,
        attempt.Discarded,
        attempt.Error,
        attempt.AbortGroupConfidence,
        attempt.AbortedAtToken);
}
