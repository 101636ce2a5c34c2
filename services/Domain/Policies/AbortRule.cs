using System.Text.Json.Serialization;
using Router.Domain.Signals;

namespace Router.Domain.Policies;

/// <summary>
/// Early escalation at one stage: cancel the draft and start the next stage as soon as its group
/// confidence (mean DeepConf C_i over the last <see cref="Window"/> tokens) falls below
/// <see cref="Threshold"/>, once at least <see cref="MinTokens"/> tokens were generated. C_i depends on
/// how many alternatives each token carries, so the threshold holds for drafts generated with
/// <see cref="TopLogprobs"/> alternatives per token (the top-k it was fitted on). A threshold of 0
/// never fires (C_i is never negative): that is <see cref="None"/>, the rule of the last stage and
/// of every stage of a policy without early escalation.
/// </summary>
public sealed record AbortRule(double Threshold, int MinTokens, int Window, int TopLogprobs)
{
    public static AbortRule None { get; } = new(0, 0, 1, 0);

    [JsonIgnore]
    public bool IsNone => Threshold <= 0;

    /// <summary>A monitor for one draft at this stage (its window is the rule's).</summary>
    public GroupConfidenceMonitor NewMonitor() => new(Window);

    /// <summary>Whether the draft the monitor watches must be cancelled now; call after each token.</summary>
    public bool ShouldAbort(GroupConfidenceMonitor monitor)
    {
        if (IsNone)
        {
            return false;
        }

        if (monitor.Window != Window)
        {
            throw new ArgumentException($"the monitor's window is {monitor.Window} tokens; this rule's is {Window}.", nameof(monitor));
        }

        return monitor.Tokens >= MinTokens && monitor.GroupConfidence < Threshold;
    }

    /// <summary>The rule of <paramref name="stage"/>: <see cref="None"/> where the list has none (the last stage, or no list at all).</summary>
    public static AbortRule ForStage(IReadOnlyList<AbortRule>? rules, int stage) =>
        rules is not null && stage >= 0 && stage < rules.Count ? rules[stage] : None;

    /// <summary>Checks per-stage rules of a chain of <paramref name="stages"/> models: at most one per stage but the last, each well formed.</summary>
    public static IReadOnlyList<string> Problems(IReadOnlyList<AbortRule>? rules, int stages)
    {
        if (rules is null)
        {
            return [];
        }

        var problems = new List<string>();
        if (rules.Count > Math.Max(0, stages - 1))
        {
            problems.Add($"abortRules: at most {Math.Max(0, stages - 1)} (one per stage but the last, which never aborts); got {rules.Count}.");
        }

        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            if (rule is null)
            {
                problems.Add($"abortRules:{i}: missing; use a threshold of 0 for a stage that never aborts.");
                continue;
            }

            if (!double.IsFinite(rule.Threshold) || rule.Threshold < 0)
            {
                problems.Add($"abortRules:{i}:threshold: must be a finite group confidence >= 0 (0 = never abort); got {rule.Threshold}.");
            }

            if (rule.IsNone)
            {
                continue;
            }

            if (rule.Window < 1)
            {
                problems.Add($"abortRules:{i}:window: must be at least 1 token; got {rule.Window}.");
            }

            if (rule.MinTokens < 1)
            {
                problems.Add($"abortRules:{i}:minTokens: must be at least 1 token; got {rule.MinTokens}.");
            }

            if (rule.TopLogprobs < 1)
            {
                problems.Add($"abortRules:{i}:topLogprobs: must be at least 1; got {rule.TopLogprobs}.");
            }
        }

        return problems;
    }
}
