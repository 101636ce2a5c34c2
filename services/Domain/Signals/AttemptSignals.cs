namespace Router.Domain.Signals;

/// <summary>The stable names of the signals, as the Scoring service, the ledger and the calibrators use them.</summary>
public static class SignalNames
{
    public const string MeanLogprob = "mean_logprob";
    public const string GeometricMeanProbability = "geometric_mean_probability";
    public const string BottomGroupConfidence = "bottom_10_group_confidence";
    public const string LowestGroupConfidence = "lowest_group_confidence";
    public const string TailConfidence = "tail_confidence";
    public const string MinMaxProbability = "min_max_probability";
    public const string P10MaxProbability = "p10_max_probability";
    public const string MedianMaxProbability = "median_max_probability";
    public const string AnswerOptionProbability = "answer_option_probability";
    public const string AnswerFormatConfidence = "answer_format_confidence";
    public const string PTrue = "p_true";
    public const string PIk = "p_ik";
    public const string Agreement = "agreement";
    public const string AnswerEntropy = "answer_entropy";
    public const string AnswerTokens = "answer_tokens";
}

/// <summary>Every signal of one attempt, by name. P(True) and P(IK) need the model asked again, so they are passed in when known.</summary>
public static class AttemptSignals
{
    public static Dictionary<string, double> Compute(
        AttemptTokens attempt,
        SignalOptions options,
        string answer = "",
        IReadOnlyList<string>? samples = null,
        (double Yes, double No)? selfVerification = null,
        double? doYouKnowYes = null)
    {
        var confidences = TokenSignals.TokenConfidences(attempt, options.LogprobFloor);
        var groups = TokenSignals.GroupConfidences(confidences, options.GroupWindow);
        var maxProbabilities = TokenSignals.MaxProbabilities(attempt, options.LogprobFloor);
        Array.Sort(maxProbabilities);
        var mean = TokenSignals.MeanLogprob(attempt.Logprobs, options.LogprobFloor);
        var signals = new Dictionary<string, double>(16, StringComparer.Ordinal)
        {
            [SignalNames.MeanLogprob] = mean,
            [SignalNames.GeometricMeanProbability] = Math.Exp(mean),
            [SignalNames.BottomGroupConfidence] = TokenSignals.BottomPercentGroupConfidence(groups, options.BottomFraction),
            [SignalNames.LowestGroupConfidence] = TokenSignals.LowestGroupConfidence(groups),
            [SignalNames.TailConfidence] = TokenSignals.TailConfidence(confidences, options.TailTokens),
            [SignalNames.MinMaxProbability] = TokenSignals.QuantileOfSorted(maxProbabilities, 0),
            [SignalNames.P10MaxProbability] = TokenSignals.QuantileOfSorted(maxProbabilities, 0.1),
            [SignalNames.MedianMaxProbability] = TokenSignals.QuantileOfSorted(maxProbabilities, 0.5),
            [SignalNames.AnswerFormatConfidence] = TokenSignals.AnswerFormatConfidence(attempt),
            [SignalNames.AnswerTokens] = attempt.Count,
        };
        if (options.AnswerOptions.Count > 0)
        {
            signals[SignalNames.AnswerOptionProbability] = TokenSignals.AnswerOptionProbability(attempt, options.AnswerOptions);
        }

        if (selfVerification is { } verification)
        {
            signals[SignalNames.PTrue] = TokenSignals.PTrue(verification.Yes, verification.No);
        }

        if (doYouKnowYes is { } yes)
        {
            signals[SignalNames.PIk] = Math.Exp(yes);
        }

        if (samples is { Count: > 0 })
        {
            signals[SignalNames.Agreement] = TokenSignals.Agreement(answer, samples);
            signals[SignalNames.AnswerEntropy] = TokenSignals.AnswerEntropy(answer, samples);
        }

        return signals;
    }
}
