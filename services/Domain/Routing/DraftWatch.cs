using Router.Domain.Policies;
using Router.Domain.Signals;

namespace Router.Domain.Routing;

/// <summary>
/// Watches one draft while it is generated, token by token, against its stage's abort rule: the
/// running group confidence of <see cref="GroupConfidenceMonitor"/> and the rule's threshold and
/// minimum tokens. Only the rule's top-k alternatives of a token count, so the confidence is on the
/// scale the threshold was fitted on even when the worker returns more.
/// </summary>
public sealed class DraftWatch
{
    private readonly AbortRule _rule;
    private readonly GroupConfidenceMonitor _monitor;

    public DraftWatch(AbortRule rule)
    {
        if (rule.IsNone)
        {
            throw new ArgumentException("a stage without an abort rule is not watched.", nameof(rule));
        }

        _rule = rule;
        _monitor = rule.NewMonitor();
    }

    /// <summary>The top-k alternatives per token the rule reads.</summary>
    public int TopLogprobs => _rule.TopLogprobs;

    /// <summary>Tokens observed so far.</summary>
    public int Tokens => _monitor.Tokens;

    /// <summary>Adds the next token; returns the abort, with the group confidence and the position where it fell, when the draft must be cancelled now.</summary>
    public StageAborted? Observe(double chosenLogprob, ReadOnlySpan<double> topLogprobs)
    {
        var group = _monitor.Observe(chosenLogprob, topLogprobs.Length > _rule.TopLogprobs ? topLogprobs[.._rule.TopLogprobs] : topLogprobs);
        return _rule.ShouldAbort(_monitor) ? new StageAborted(group, _monitor.Tokens) : null;
    }
}
