using System.Text.Json.Serialization;

namespace Router.Domain.Routing;

/// <summary>How a request is routed; the wire names are what clients send (in `model`) and see.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RoutingMode>))]
public enum RoutingMode
{
    /// <summary>Sequential cascade: start at the cheapest model of the chain, escalate while unsure.</summary>
    [JsonStringEnumMemberName("cascade")]
    Cascade,

    /// <summary>The classifier picks one model from the query alone; no escalation.</summary>
    [JsonStringEnumMemberName("pre-call")]
    PreCall,

    /// <summary>The classifier picks where to start, then the cascade escalates from there.</summary>
    [JsonStringEnumMemberName("hybrid")]
    Hybrid,

    /// <summary>The request named one model: no routing.</summary>
    [JsonStringEnumMemberName("direct")]
    Direct,
}

/// <summary>Why a stage was accepted, escalated past or stopped at: the machine-readable reason of the trace and the ledger.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<StageReason>))]
public enum StageReason
{
    [JsonStringEnumMemberName("confidence_above_threshold")]
    ConfidenceAboveThreshold,

    [JsonStringEnumMemberName("confidence_below_threshold")]
    ConfidenceBelowThreshold,

    /// <summary>Above the policy's threshold but below the request's own min_confidence.</summary>
    [JsonStringEnumMemberName("below_min_confidence")]
    BelowMinConfidence,

    [JsonStringEnumMemberName("last_stage")]
    LastStage,

    [JsonStringEnumMemberName("budget_exhausted")]
    BudgetExhausted,

    [JsonStringEnumMemberName("latency_exhausted")]
    LatencyExhausted,

    /// <summary>The request named this model: it answers whatever its confidence.</summary>
    [JsonStringEnumMemberName("direct_model")]
    DirectModel,

    /// <summary>The policy could not be read (Policy service unreachable, nothing cached): escalating keeps the top model's accuracy.</summary>
    [JsonStringEnumMemberName("policy_unavailable")]
    PolicyUnavailable,

    /// <summary>The worker failed (unreachable, timed out, an error, malformed output); the router fails over.</summary>
    [JsonStringEnumMemberName("stage_failed")]
    StageFailed,

    /// <summary>The prompt does not fit the model's context window (a later model's may be larger).</summary>
    [JsonStringEnumMemberName("context_length_exceeded")]
    ContextLengthExceeded,

    /// <summary>The worker's circuit is open after repeated failures: skipped without a call.</summary>
    [JsonStringEnumMemberName("circuit_open")]
    CircuitOpen,

    /// <summary>The draft's running group confidence fell below the stage's abort threshold: cancelled mid-generation.</summary>
    [JsonStringEnumMemberName("low_group_confidence")]
    LowGroupConfidence,

    /// <summary>Every later stage failed; the most confident earlier answer, already paid for, is returned.</summary>
    [JsonStringEnumMemberName("fallback_after_failure")]
    FallbackAfterFailure,

    /// <summary>The client went away while this stage ran.</summary>
    [JsonStringEnumMemberName("client_disconnected")]
    ClientDisconnected,

    /// <summary>The live stream to the client broke after it had begun: the answer cannot be replaced.</summary>
    [JsonStringEnumMemberName("stream_interrupted")]
    StreamInterrupted,

    /// <summary>A repeated deterministic request answered from the response cache.</summary>
    [JsonStringEnumMemberName("response_cache")]
    ResponseCache,
}
