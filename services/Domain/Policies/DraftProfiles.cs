using Router.Domain.Signals;

namespace Router.Domain.Policies;

/// <summary>
/// Token-level facts of every answer (query, stage) of a <see cref="ChainData"/>: how many tokens it
/// has, what a prefix of it costs and takes, and after how many tokens an abort rule with this
/// profile's window and minimum would cut it, for any threshold. The abort points come from the
/// same <see cref="GroupConfidenceMonitor"/> and <see cref="AbortRule.ShouldAbort"/> the router runs,
/// so replay and production cut a draft at the same token. Per answer only the successive new
/// lows of its group confidence from the minimum on are kept: the rule fires at the first one below
/// its threshold.
/// </summary>
public sealed class DraftProfiles
{
    private readonly (double Group, int At)[][] _lows;
    private readonly int _stages;

    public DraftProfiles(int queries, int stages, int window, int minTokens, int topLogprobs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minTokens, 1);
        Window = window;
        MinTokens = minTokens;
        TopLogprobs = topLogprobs;
        _stages = stages;
        _lows = new (double, int)[queries * stages][];
        Tokens = new int[queries, stages];
        PromptCostUsd = new double[queries, stages];
        UsdPerToken = new double[queries, stages];
        FirstTokenMs = new double[queries, stages];
        MsPerToken = new double[queries, stages];
    }

    public int Window { get; }

    public int MinTokens { get; }

    /// <summary>The top-k the answers were generated with: the scale abort thresholds fitted on them hold for.</summary>
    public int TopLogprobs { get; }

    public int[,] Tokens { get; }

    public double[,] PromptCostUsd { get; }

    public double[,] UsdPerToken { get; }

    public double[,] FirstTokenMs { get; }

    public double[,] MsPerToken { get; }

    /// <summary>Runs the answer's tokens through a monitor of this window and records where its group confidence reached new lows.</summary>
    public void Profile(int query, int stage, AttemptTokens attempt)
    {
        var probe = new AbortRule(double.MaxValue, MinTokens, Window, TopLogprobs);
        var monitor = probe.NewMonitor();
        var lows = new List<(double, int)>();
        var lowest = double.PositiveInfinity;
        var alternatives = new double[Math.Max(1, attempt.TopLogprobs.Count == 0 ? 0 : attempt.TopLogprobs.Max(t => t.Count))];
        for (var i = 0; i < attempt.Count; i++)
        {
            var top = i < attempt.TopLogprobs.Count ? attempt.TopLogprobs[i] : [];
            for (var j = 0; j < top.Count; j++)
            {
                alternatives[j] = top[j].Logprob;
            }

            var group = monitor.Observe(attempt.Logprobs[i], alternatives.AsSpan(0, top.Count));

            // A rule of threshold just above this group fires here unless an earlier low already made it fire.
            if (probe.ShouldAbort(monitor) && group < lowest)
            {
                lowest = group;
                lows.Add((group, monitor.Tokens));
            }
        }

        _lows[query * _stages + stage] = [.. lows];
    }

    /// <summary>The tokens generated when <paramref name="rule"/> cuts the answer, or 0 when it lets it finish.</summary>
    public int AbortsAt(int query, int stage, AbortRule rule)
    {
        if (rule.IsNone)
        {
            return 0;
        }

        if (rule.Window != Window || rule.MinTokens != MinTokens)
        {
            throw new ArgumentException($"the drafts were profiled for a window of {Window} and a minimum of {MinTokens} tokens; the rule has {rule.Window} and {rule.MinTokens}.", nameof(rule));
        }

        foreach (var (group, at) in _lows[query * _stages + stage] ?? [])
        {
            if (group < rule.Threshold)
            {
                return at;
            }
        }

        return 0;
    }

    /// <summary>What the first <paramref name="tokens"/> tokens of the answer cost, prompt included.</summary>
    public double CostUsd(int query, int stage, int tokens) => PromptCostUsd[query, stage] + tokens * UsdPerToken[query, stage];

    /// <summary>When the <paramref name="tokens"/>-th token of the answer arrives, from the request to the model.</summary>
    public double ElapsedMs(int query, int stage, int tokens) => FirstTokenMs[query, stage] + tokens * MsPerToken[query, stage];
}
