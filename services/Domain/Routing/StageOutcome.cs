using Router.Domain.Policies;

namespace Router.Domain.Routing;

/// <summary>What calling one stage came to, as the Gateway's adapters report it.</summary>
public abstract record StageOutcome;

/// <summary>The model answered; <paramref name="Confidence"/> is the (calibrated, or raw when it could not be) P(correct).</summary>
public sealed record StageAnswered(double Confidence, int PromptTokens, int CompletionTokens) : StageOutcome;

/// <summary>
/// The stage produced no answer: <paramref name="Reason"/> is <see cref="StageReason.StageFailed"/>,
/// <see cref="StageReason.ContextLengthExceeded"/> or <see cref="StageReason.CircuitOpen"/>.
/// <paramref name="TimedOut"/>: it ran out of its deadline. <paramref name="OutputStarted"/>: the
/// client had already received part of this stage's answer (a live stream), which nothing can replace.
/// </summary>
public sealed record StageFailed(StageReason Reason, bool TimedOut = false, bool OutputStarted = false) : StageOutcome;

/// <summary>The draft was cancelled mid-generation: its running group confidence fell to <paramref name="GroupConfidence"/> at token <paramref name="Position"/>.</summary>
public sealed record StageAborted(double GroupConfidence, int Position) : StageOutcome;

/// <summary>
/// The stage's recipe reads a signal known before the model answers (P(IK)), and the policy escalated
/// on it: the stage asked only its question (<paramref name="PromptTokens"/> tokens) and generated nothing.
/// </summary>
public sealed record StageDeclined(double Confidence, int PromptTokens) : StageOutcome;

/// <summary>The client went away while the stage ran.</summary>
public sealed record ClientGone : StageOutcome;

/// <summary>A stage the route called, what came of it, and what the router decided.</summary>
public sealed class StageRecord(PlannedStage stage, StageOutcome outcome)
{
    public PlannedStage Stage { get; } = stage;

    public StageOutcome Outcome { get; } = outcome;

    public PolicyDecision Decision { get; internal set; }

    public StageReason Reason { get; internal set; }

    /// <summary>The threshold the confidence was compared with, when one was.</summary>
    public double? Threshold { get; internal set; }

    /// <summary>An answer that was paid for and then not used.</summary>
    public bool Discarded { get; internal set; }

    public bool Answered => Outcome is StageAnswered;
}

/// <summary>
/// The next call the route makes: the stage, whether it is the last, how long it may take, and the
/// abort rule its draft is watched with (<see cref="AbortRule.None"/>: it generates to the end).
/// </summary>
public sealed record StageCall(PlannedStage Stage, int Index, bool IsLast, TimeSpan Deadline)
{
    public AbortRule Abort { get; init; } = AbortRule.None;
}
