using Router.Domain.Policies;

namespace Router.Domain.Routing;

/// <summary>
/// The rules of one route, as a state machine with no I/O: which stage to call next and with what
/// deadline, what to decide on each stage's outcome (accept, escalate, stop, and why), and how the
/// route ends: an accepted answer, the most confident earlier answer when every later stage failed,
/// or a failure of the right kind. The Gateway's adapters call the stages and report outcomes.
/// </summary>
public sealed class CascadeRun(CascadePlan plan)
{
    private readonly List<StageRecord> _records = [];
    private int _next;

    public CascadePlan Plan { get; } = plan;

    public IReadOnlyList<StageRecord> Records => _records;

    /// <summary>Set once the route has ended.</summary>
    public CascadeResult? Result { get; private set; }

    /// <summary>What the route has spent so far: every stage that produced tokens was paid for.</summary>
    public decimal SpentUsd { get; private set; }

    /// <summary>The next stage to call, or null when the route has ended (see <see cref="Result"/>).</summary>
    public StageCall? NextStage(double elapsedMs)
    {
        if (Result is not null)
        {
            return null;
        }

        if (_next >= Plan.Stages.Count)
        {
            Finish(RouteFailureOfFailedStages());
            return null;
        }

        var deadline = Plan.StageTimeout;
        if (Plan.Limits.MaxLatencyMs is { } budget)
        {
            var remaining = TimeSpan.FromMilliseconds(budget - elapsedMs);
            if (remaining <= TimeSpan.Zero)
            {
                Finish(RouteFailure.TimedOut);
                return null;
            }

            deadline = remaining < deadline ? remaining : deadline;
        }

        var stage = Plan.Stages[_next];
        var isLast = _next == Plan.Stages.Count - 1;

        // The last stage never aborts: nothing would answer after it.
        var abort = isLast || Plan.Mode == RoutingMode.Direct || Plan.Rule is null ? AbortRule.None : Plan.Rule.AbortRuleFor(stage.ChainIndex);
        return new StageCall(stage, _next, isLast, deadline) { Abort = abort };
    }

    /// <summary>
    /// Whether the stage <see cref="NextStage"/> returned escalates on <paramref name="confidence"/>
    /// read before it answers (P(IK)), so it need not generate: the policy would escalate on it. Never
    /// the last stage, a direct model or a route without a policy; a stage the policy would stop at
    /// (budget, latency) still answers.
    /// </summary>
    public bool EscalatesBeforeAnswer(StageCall call, double confidence, int promptTokens, double elapsedMs) =>
        Result is null && call.Index == _next && !call.IsLast && Plan.Mode != RoutingMode.Direct && Plan.Rule is not null
        && VerdictBeforeAnswer(call.Stage.ChainIndex, _next + 1, confidence, promptTokens, elapsedMs).Decision == PolicyDecision.Escalate;

    /// <summary>Records the outcome of the stage <see cref="NextStage"/> returned and decides on it.</summary>
    public StageRecord Record(StageOutcome outcome, decimal costUsd, double elapsedMs)
    {
        if (Result is not null || _next >= Plan.Stages.Count)
        {
            throw new InvalidOperationException("The route has ended; no stage is running.");
        }

        var stage = Plan.Stages[_next];
        var isLast = _next == Plan.Stages.Count - 1;
        var record = new StageRecord(stage, outcome);
        _records.Add(record);
        SpentUsd += costUsd;
        _next++;

        switch (outcome)
        {
            case StageAnswered answered:
                Decide(record, answered, isLast, elapsedMs);
                break;
            case StageDeclined declined:
                var verdict = VerdictBeforeAnswer(stage.ChainIndex, _next, declined.Confidence, declined.PromptTokens, elapsedMs);
                (record.Decision, record.Reason, record.Threshold) = (PolicyDecision.Escalate, verdict.Reason, verdict.Threshold);
                break;
            case StageAborted:
                (record.Decision, record.Reason, record.Discarded) = (PolicyDecision.Escalate, StageReason.LowGroupConfidence, true);
                break;
            case StageFailed failed:
                (record.Decision, record.Reason) = (isLast ? PolicyDecision.Stop : PolicyDecision.Escalate, failed.Reason);
                if (failed.OutputStarted)
                {
                    Result = new RouteFailed(RouteFailure.StreamInterrupted);
                }

                break;
            case ClientGone:
                (record.Decision, record.Reason) = (PolicyDecision.Stop, StageReason.ClientDisconnected);
                Result = new RouteFailed(RouteFailure.ClientDisconnected);
                break;
            default:
                throw new ArgumentException($"Unknown outcome {outcome.GetType().Name}.", nameof(outcome));
        }

        return record;
    }

    private void Decide(StageRecord record, StageAnswered answered, bool isLast, double elapsedMs)
    {
        if (Plan.Mode == RoutingMode.Direct)
        {
            Accept(record, PolicyDecision.Accept, StageReason.DirectModel, null);
            return;
        }

        if (isLast)
        {
            Accept(record, PolicyDecision.Accept, StageReason.LastStage, null);
            return;
        }

        if (Plan.Rule is not { } rule)
        {
            (record.Decision, record.Reason, record.Discarded) = (PolicyDecision.Escalate, StageReason.PolicyUnavailable, true);
            return;
        }

        var next = Plan.Stages[_next];
        var nextCost = next.Price.Cost(answered.PromptTokens, Math.Max(answered.CompletionTokens, 1));
        var verdict = rule.Decide(record.Stage.ChainIndex, answered.Confidence, (double)SpentUsd, elapsedMs, Plan.Limits, (double)nextCost);
        if (verdict.Decision == PolicyDecision.Escalate)
        {
            (record.Decision, record.Reason, record.Threshold, record.Discarded) = (verdict.Decision, verdict.Reason, verdict.Threshold, true);
            return;
        }

        Accept(record, verdict.Decision, verdict.Reason, verdict.Threshold);
    }

    /// <summary>The policy's verdict on a confidence read before the answer, the next stage costed for the question alone.</summary>
    private StageVerdict VerdictBeforeAnswer(int chainIndex, int nextIndex, double confidence, int promptTokens, double elapsedMs)
    {
        var next = Plan.Stages[Math.Min(nextIndex, Plan.Stages.Count - 1)];
        return Plan.Rule!.Decide(chainIndex, confidence, (double)SpentUsd, elapsedMs, Plan.Limits, (double)next.Price.Cost(promptTokens, 1));
    }

    private void Accept(StageRecord record, PolicyDecision decision, StageReason reason, double? threshold)
    {
        (record.Decision, record.Reason, record.Threshold) = (decision, reason, threshold);
        Result = new RouteAnswered(_records.Count - 1);
    }

    /// <summary>
    /// No stage answered acceptably: an answer already paid for beats an error, so the most confident
    /// discarded answer is returned; otherwise the route fails.
    /// </summary>
    private void Finish(RouteFailure failure)
    {
        var best = -1;
        for (var i = 0; i < _records.Count; i++)
        {
            if (_records[i] is { Discarded: true, Outcome: StageAnswered answered }
                && (best < 0 || answered.Confidence > ((StageAnswered)_records[best].Outcome).Confidence))
            {
                best = i;
            }
        }

        if (best >= 0)
        {
            (_records[best].Decision, _records[best].Reason, _records[best].Discarded) = (PolicyDecision.Accept, StageReason.FallbackAfterFailure, false);
            Result = new RouteAnswered(best);
            return;
        }

        Result = new RouteFailed(failure);
    }

    private RouteFailure RouteFailureOfFailedStages()
    {
        var failures = _records.Select(r => r.Outcome).OfType<StageFailed>().ToList();
        if (failures.Count > 0 && failures.All(f => f.Reason == StageReason.ContextLengthExceeded))
        {
            return RouteFailure.ContextLengthExceeded;
        }

        return failures.Count > 0 && failures.All(f => f.TimedOut) ? RouteFailure.TimedOut : RouteFailure.AllStagesFailed;
    }
}
