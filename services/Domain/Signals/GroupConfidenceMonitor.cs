namespace Router.Domain.Signals;

/// <summary>
/// The DeepConf group confidence of an answer while it is being generated, fed one token at a time:
/// the token confidence C_i, the group confidence (mean C_i over the last w tokens), and the lowest
/// group confidence so far with where it ended. Every value equals what the batch signals of
/// <see cref="TokenSignals"/> give for the tokens seen so far: tokens whose confidence is undefined
/// (NaN log-prob, no alternatives) are skipped, and before w tokens the window is clipped to the
/// answer, so the group is the mean of every token so far. O(1) work per token and no allocation
/// after construction: one instance watches one draft (see <c>AbortRule.ShouldAbort</c>).
/// </summary>
public sealed class GroupConfidenceMonitor
{
    private readonly double[] _window;
    private readonly double _floor;
    private double _sum;
    private int _next;

    public GroupConfidenceMonitor(int window, double logprobFloor = -30)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (!double.IsFinite(logprobFloor) || logprobFloor >= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(logprobFloor), $"must be a finite negative log-prob; got {logprobFloor}.");
        }

        _window = new double[window];
        _floor = logprobFloor;
    }

    /// <summary>The window w, in tokens.</summary>
    public int Window => _window.Length;

    /// <summary>Tokens observed, skipped ones included: the position in the answer.</summary>
    public int Tokens { get; private set; }

    /// <summary>Tokens whose confidence was defined: the ones the window averages over.</summary>
    public int ScoredTokens { get; private set; }

    /// <summary>C_i of the last token observed (NaN when it was skipped or before any token).</summary>
    public double TokenConfidence { get; private set; } = double.NaN;

    /// <summary>Mean C_i over the last min(w, scored tokens) scored tokens; NaN before any.</summary>
    public double GroupConfidence => ScoredTokens == 0 ? double.NaN : _sum / Math.Min(ScoredTokens, Window);

    /// <summary>Whether w scored tokens have been seen, so <see cref="GroupConfidence"/> is a full window.</summary>
    public bool IsWindowFull => ScoredTokens >= Window;

    /// <summary>The lowest group confidence of the answer so far (the clipped window until it is full); NaN before any.</summary>
    public double LowestGroupConfidence { get; private set; } = double.NaN;

    /// <summary>The position (<see cref="Tokens"/> then) of the last token of the lowest group; 0 before any.</summary>
    public int LowestGroupEndsAt { get; private set; }

    /// <summary>
    /// Adds the next token: its chosen log-prob and the top-k log-probs returned with it (k may
    /// vary; a caller holding them in a list copies them into a reused or stack buffer). Returns
    /// the group confidence.
    /// </summary>
    public double Observe(double chosenLogprob, ReadOnlySpan<double> topLogprobs)
    {
        var confidence = TokenSignals.TokenConfidence(chosenLogprob, topLogprobs, _floor);
        Tokens++;
        TokenConfidence = confidence;
        if (double.IsNaN(confidence))
        {
            return GroupConfidence;
        }

        // A running sum: adding and removing values of at most -floor drifts by ~1e-15 per token,
        // far below any threshold's resolution, so it is not recomputed.
        if (ScoredTokens >= Window)
        {
            _sum -= _window[_next];
        }

        _window[_next] = confidence;
        _next = _next + 1 == Window ? 0 : _next + 1;
        _sum += confidence;
        ScoredTokens++;

        var group = GroupConfidence;
        if (ScoredTokens <= Window || group < LowestGroupConfidence)
        {
            // Until the window is full the only group is the clipped one, which grows with the answer.
            LowestGroupConfidence = group;
            LowestGroupEndsAt = Tokens;
        }

        return group;
    }
}
