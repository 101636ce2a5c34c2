using Router.Domain.Signals;

namespace Router.Domain.Calibration;

/// <summary>
/// Fits a fused recipe's weights (seed 000's proposal: per-model logistic regression over the
/// available signals) on one model's labelled attempts. The features are the logits of the inputs'
/// scores, standardised for the fit so one L2 penalty suits every input whatever its spread, and
/// folded back so the stored weights apply to the raw logits. The fused score is then already a
/// probability of being correct on the fitting data.
/// </summary>
public static class SignalFusion
{
    /// <summary>L2 penalty on the standardised weights: a mild pull towards "this input tells nothing".</summary>
    public const double L2 = 1.0;

    public static SignalRecipe Fit(SignalRecipe recipe, IReadOnlyList<IReadOnlyDictionary<string, double>> signals, IReadOnlyList<bool> correct)
    {
        if (!recipe.IsFused)
        {
            throw new ArgumentException($"'{recipe.Key}' is not a fused recipe.", nameof(recipe));
        }

        if (signals.Count != correct.Count || signals.Count == 0)
        {
            throw new ArgumentException($"needs labelled attempts, one label per attempt; got {signals.Count} attempts and {correct.Count} labels.", nameof(correct));
        }

        var d = recipe.Inputs.Count;
        var rows = signals.Select(s => RecipeScore.FusionFeatures(recipe.Inputs, s)).ToArray();
        var mean = new double[d];
        var spread = new double[d];
        for (var j = 0; j < d; j++)
        {
            mean[j] = rows.Average(r => r[j]);
            var variance = rows.Average(r => (r[j] - mean[j]) * (r[j] - mean[j]));
            spread[j] = variance > 1e-12 ? Math.Sqrt(variance) : 0;
        }

        double[] weights;
        if (correct.All(c => c) || !correct.Any(c => c))
        {
            // Nothing to separate: the base rate (kept off 0 and 1) and no weight on any input.
            var rate = (correct.Count(c => c) + 1.0) / (correct.Count + 2.0);
            weights = [Calibrator.Logit(rate), .. new double[d]];
        }
        else
        {
            var standardised = rows.Select(r => Enumerable.Range(0, d).Select(j => spread[j] > 0 ? (r[j] - mean[j]) / spread[j] : 0).ToArray()).ToList();
            var fitted = LogisticRegression.Fit(standardised, correct, L2);
            weights = new double[d + 1];
            weights[0] = fitted[0];
            for (var j = 0; j < d; j++)
            {
                weights[j + 1] = spread[j] > 0 ? fitted[j + 1] / spread[j] : 0;
                weights[0] -= weights[j + 1] * mean[j];
            }
        }

        return recipe with { Weights = weights };
    }
}
