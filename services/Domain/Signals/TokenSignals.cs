namespace Router.Domain.Signals;

/// <summary>
/// The confidence signals computed from one answer's token log-probs (design.md, "Confidence
/// signals"). Pure functions over arrays. Conventions: NaN log-probs are dropped; -inf is counted as
/// <see cref="SignalOptions.LogprobFloor"/>; a signal that is undefined (empty answer, no option
/// token, no samples) is NaN, which calibrators map to their lowest probability.
/// </summary>
public static class TokenSignals
{
    /// <summary>Mean token log-prob ("average trace confidence"); exp of it is the geometric-mean probability.</summary>
    public static double MeanLogprob(IReadOnlyList<double> logprobs, double floor = -30)
    {
        double sum = 0;
        var n = 0;
        foreach (var l in logprobs)
        {
            if (double.IsNaN(l))
            {
                continue;
            }

            sum += Math.Max(l, floor);
            n++;
        }

        return n == 0 ? double.NaN : sum / n;
    }

    /// <summary>
    /// DeepConf token confidence C_i = -(1/k) * sum of the top-k log-probs at i. With no
    /// alternatives returned, C_i = -l_i (the chosen token is its own top-1).
    /// </summary>
    public static double[] TokenConfidences(AttemptTokens attempt, double floor = -30)
    {
        var result = new double[attempt.Count];
        for (var i = 0; i < attempt.Count; i++)
        {
            result[i] = TokenConfidence(attempt.Logprobs[i], i < attempt.TopLogprobs.Count ? attempt.TopLogprobs[i] : [], floor);
        }

        return result;
    }

    /// <summary>
    /// C_i of one token from its top-k log-probs (k is however many the backend returned), or -l_i
    /// without alternatives; NaN when the chosen log-prob is NaN and no alternative was returned.
    /// A NaN alternative counts as the floor. Log-probs are clipped to [floor, 0]: a backend's
    /// rounding above 0 is probability 1, not more.
    /// </summary>
    public static double TokenConfidence(double chosenLogprob, ReadOnlySpan<double> topLogprobs, double floor = -30)
    {
        if (topLogprobs.IsEmpty)
        {
            return ChosenOnly(chosenLogprob, floor);
        }

        double sum = 0;
        foreach (var l in topLogprobs)
        {
            sum += Bounded(l, floor);
        }

        return -sum / topLogprobs.Length;
    }

    /// <summary><see cref="TokenConfidence(double, ReadOnlySpan{double}, double)"/> over alternatives as <see cref="AttemptTokens"/> holds them.</summary>
    private static double TokenConfidence(double chosenLogprob, IReadOnlyList<(string Token, double Logprob)> topLogprobs, double floor)
    {
        if (topLogprobs.Count == 0)
        {
            return ChosenOnly(chosenLogprob, floor);
        }

        // Indexed, not foreach: enumerating the interface would allocate per token.
        double sum = 0;
        for (var j = 0; j < topLogprobs.Count; j++)
        {
            sum += Bounded(topLogprobs[j].Logprob, floor);
        }

        return -sum / topLogprobs.Count;
    }

    /// <summary>Mean C_i over each sliding window of w tokens (w clipped to the answer length): n - w + 1 groups.</summary>
    public static double[] GroupConfidences(IReadOnlyList<double> tokenConfidences, int window)
    {
        var values = tokenConfidences.Where(c => !double.IsNaN(c)).ToArray();
        if (values.Length == 0)
        {
            return [];
        }

        var w = Math.Clamp(window, 1, values.Length);
        var groups = new double[values.Length - w + 1];
        var sum = values.Take(w).Sum();
        groups[0] = sum / w;
        for (var i = w; i < values.Length; i++)
        {
            sum += values[i] - values[i - w];
            groups[i - w + 1] = sum / w;
        }

        return groups;
    }

    /// <summary>Mean of the lowest <paramref name="fraction"/> of group confidences (at least one group).</summary>
    public static double BottomPercentGroupConfidence(IReadOnlyList<double> groups, double fraction)
    {
        if (groups.Count == 0)
        {
            return double.NaN;
        }

        var take = Math.Max(1, (int)Math.Ceiling(Math.Clamp(fraction, 0, 1) * groups.Count));
        var sorted = groups.ToArray();
        Array.Sort(sorted);
        double sum = 0;
        for (var i = 0; i < take; i++)
        {
            sum += sorted[i];
        }

        return sum / take;
    }

    public static double LowestGroupConfidence(IReadOnlyList<double> groups) => groups.Count == 0 ? double.NaN : groups.Min();

    /// <summary>Mean C_i over the last t tokens (t clipped to the answer length).</summary>
    public static double TailConfidence(IReadOnlyList<double> tokenConfidences, int tail)
    {
        var values = tokenConfidences.Where(c => !double.IsNaN(c)).ToArray();
        return values.Length == 0 ? double.NaN : values.TakeLast(Math.Clamp(tail, 1, values.Length)).Average();
    }

    /// <summary>Per token, the probability of the most likely token (chosen or alternative).</summary>
    public static double[] MaxProbabilities(AttemptTokens attempt, double floor = -30)
    {
        var result = new List<double>(attempt.Count);
        for (var i = 0; i < attempt.Count; i++)
        {
            var best = double.IsNaN(attempt.Logprobs[i]) ? double.NegativeInfinity : attempt.Logprobs[i];
            if (i < attempt.TopLogprobs.Count)
            {
                var top = attempt.TopLogprobs[i];
                for (var j = 0; j < top.Count; j++)
                {
                    if (!double.IsNaN(top[j].Logprob))
                    {
                        best = Math.Max(best, top[j].Logprob);
                    }
                }
            }

            if (!double.IsNegativeInfinity(best) || attempt.Logprobs[i] is double.NegativeInfinity)
            {
                result.Add(Math.Exp(Math.Max(best, floor)));
            }
        }

        return [.. result];
    }

    /// <summary>The q-quantile (0..1, nearest rank) of the values, e.g. the minimum (0), 10% and median of per-token max-probability.</summary>
    public static double Quantile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        return QuantileOfSorted(sorted, q);
    }

    /// <summary><see cref="Quantile"/> of values already in ascending order, so several quantiles share one sort.</summary>
    public static double QuantileOfSorted(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>
    /// Answer-option probability P(T) (seed 001): at the first token that is one of the options
    /// (trimmed, case-sensitive), the chosen option's probability normalised over the options'
    /// probabilities among that token's alternatives. NaN when no token is an option.
    /// </summary>
    public static double AnswerOptionProbability(AttemptTokens attempt, IReadOnlyList<string> options)
    {
        if (options.Count == 0)
        {
            return double.NaN;
        }

        for (var i = 0; i < attempt.Count; i++)
        {
            var chosen = attempt.Tokens[i].Trim();
            if (!options.Contains(chosen))
            {
                continue;
            }

            var probabilities = new Dictionary<string, double> { [chosen] = Math.Exp(attempt.Logprobs[i]) };
            if (i < attempt.TopLogprobs.Count)
            {
                foreach (var (token, l) in attempt.TopLogprobs[i])
                {
                    var option = token.Trim();
                    if (options.Contains(option) && option != chosen)
                    {
                        probabilities[option] = Math.Max(probabilities.GetValueOrDefault(option), Math.Exp(l));
                    }
                }
            }

            var total = probabilities.Values.Sum();
            return total > 0 ? probabilities[chosen] / total : double.NaN;
        }

        return double.NaN;
    }

    /// <summary>
    /// Format confidence for free-form answers in the "Answer: &lt;answer&gt;" format: the probability
    /// that the first token is "Answer" (from the chosen token or its alternatives). NaN for an empty answer.
    /// </summary>
    public static double AnswerFormatConfidence(AttemptTokens attempt)
    {
        if (attempt.Count == 0)
        {
            return double.NaN;
        }

        if (attempt.Tokens[0].Trim() == "Answer")
        {
            return Math.Exp(attempt.Logprobs[0]);
        }

        var alternatives = attempt.TopLogprobs.Count > 0 ? attempt.TopLogprobs[0] : [];
        var match = alternatives.Where(a => a.Token.Trim() == "Answer").Select(a => Math.Exp(a.Logprob)).DefaultIfEmpty(0).Max();
        return match;
    }

    /// <summary>Self-verification P(True) = p(Yes) / (p(Yes) + p(No)) from the first token's log-probs (seed 002, AutoMix).</summary>
    public static double PTrue(double yesLogprob, double noLogprob)
    {
        var yes = Math.Exp(yesLogprob);
        var no = Math.Exp(noLogprob);
        return yes + no > 0 ? yes / (yes + no) : double.NaN;
    }

    /// <summary>
    /// The final answer of a reply in the "Answer: &lt;answer&gt;" format: what follows the first
    /// "Answer:" (else the reply) up to the end of its line, without a trailing parenthetical remark or
    /// full stop; an option label written as "B) Mars" is the label alone.
    /// </summary>
    public static string ExtractAnswer(string reply)
    {
        const string Marker = "Answer:";
        var start = reply.IndexOf(Marker, StringComparison.OrdinalIgnoreCase);
        var text = (start < 0 ? reply : reply[(start + Marker.Length)..]).TrimStart();
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        text = end < 0 ? text : text[..end];
        if (text.Length >= 2 && char.IsAsciiLetter(text[0]) && text[1] == ')')
        {
            return text[..1];
        }

        var remark = text.IndexOf(" (", StringComparison.Ordinal);
        return (remark > 0 ? text[..remark] : text).Trim().TrimEnd('.').TrimEnd();
    }

    /// <summary>Normalises a reply's final answer (<see cref="ExtractAnswer"/>) for agreement: lower case, no punctuation, articles or extra spaces.</summary>
    public static string NormaliseAnswer(string answer)
    {
        var text = ExtractAnswer(answer);
        var words = new string([.. text.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : ' ')])
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(w => w is not ("a" or "an" or "the"));
        return string.Join(' ', words);
    }

    /// <summary>Self-consistency: share of the m samples whose normalised answer equals the answer's. NaN without samples.</summary>
    public static double Agreement(string answer, IReadOnlyList<string> samples)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var target = NormaliseAnswer(answer);
        return samples.Count(s => NormaliseAnswer(s) == target) / (double)samples.Count;
    }

    /// <summary>Entropy (nats) of the clusters of normalised answers among the answer and its samples; 0 = all agree.</summary>
    public static double AnswerEntropy(string answer, IReadOnlyList<string> samples)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var all = samples.Append(answer).Select(NormaliseAnswer).ToList();
        return -all.GroupBy(a => a).Select(g => g.Count() / (double)all.Count).Sum(p => p * Math.Log(p));
    }

    private static double ChosenOnly(double chosenLogprob, double floor) => double.IsNaN(chosenLogprob) ? double.NaN : -Bounded(chosenLogprob, floor);

    private static double Bounded(double logprob, double floor) => double.IsNaN(logprob) ? floor : Math.Clamp(logprob, floor, 0);
}
