namespace Router.Domain.Signals;

/// <summary>
/// What was gathered for one attempt: the answer with its tokens (top-k alternatives included),
/// and, when the recipe asked for them, the self-verification's Yes/No log-probs, the "do you know"
/// Yes log-prob and the sampled answers' texts.
/// </summary>
public sealed record GatheredAttempt(AttemptTokens Tokens, string Answer)
{
    /// <summary>Nothing generated yet: what a recipe read before the answer (P(IK)) starts from.</summary>
    public static GatheredAttempt Unanswered { get; } = new(AttemptTokens.Empty, string.Empty);

    public (double Yes, double No)? SelfVerification { get; init; }

    public double? DoYouKnowYes { get; init; }

    public IReadOnlyList<string> Samples { get; init; } = [];

    /// <summary>Every signal that can be computed from what was gathered (<see cref="AttemptSignals.Compute"/>).</summary>
    public Dictionary<string, double> Signals(SignalOptions options) =>
        AttemptSignals.Compute(Tokens, options, Answer, Samples, SelfVerification, DoYouKnowYes);
}

/// <summary>
/// A recipe's score: a number in [0, 1] that grows with confidence, which calibrators map to
/// P(correct) and thresholds compare against. Pure functions; NaN where the recipe's signal is
/// undefined for the attempt (calibrators treat NaN as the least confident score).
/// </summary>
public static class RecipeScore
{
    public static double Of(SignalRecipe recipe, GatheredAttempt attempt, SignalOptions options) => Of(recipe, attempt.Signals(options));

    /// <summary>The recipe's score from an attempt's signals by name (as computed, stored in the ledger or in traces).</summary>
    public static double Of(SignalRecipe recipe, IReadOnlyDictionary<string, double> signals)
    {
        if (!recipe.IsFused)
        {
            return OfSignal(recipe.Signal, signals.GetValueOrDefault(recipe.Signal, double.NaN));
        }

        var logit = recipe.Weights[0];
        var features = FusionFeatures(recipe.Inputs, signals);
        for (var j = 0; j < features.Length; j++)
        {
            logit += recipe.Weights[j + 1] * features[j];
        }

        return Calibration.Calibrator.Sigmoid(logit);
    }

    /// <summary>
    /// One signal's raw value as a score in [0, 1], increasing with confidence: exp of the mean
    /// log-prob; C / (1 + C) for DeepConf token confidences C &gt;= 0 (larger C = more peaked top-k);
    /// exp(-H) for the answer entropy H; probabilities (P(T), P(True), P(IK), agreement, max-prob
    /// quantiles) as they are.
    /// </summary>
    public static double OfSignal(string signal, double raw) => signal switch
    {
        _ when double.IsNaN(raw) => double.NaN,
        SignalNames.MeanLogprob => Math.Exp(raw),
        SignalNames.BottomGroupConfidence or SignalNames.LowestGroupConfidence or SignalNames.TailConfidence => Math.Max(raw, 0) / (1 + Math.Max(raw, 0)),
        SignalNames.AnswerEntropy => Math.Exp(-Math.Max(raw, 0)),
        _ => Math.Clamp(raw, 0, 1),
    };

    /// <summary>The features a fused recipe weighs: logit of each input's score, an undefined input counting as the least confident.</summary>
    public static double[] FusionFeatures(IReadOnlyList<string> inputs, IReadOnlyDictionary<string, double> signals)
    {
        var features = new double[inputs.Count];
        for (var j = 0; j < inputs.Count; j++)
        {
            var score = OfSignal(inputs[j], signals.GetValueOrDefault(inputs[j], double.NaN));
            features[j] = Calibration.Calibrator.Logit(double.IsNaN(score) ? 0 : score);
        }

        return features;
    }
}
