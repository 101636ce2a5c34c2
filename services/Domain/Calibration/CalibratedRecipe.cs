using Router.Domain.Signals;

namespace Router.Domain.Calibration;

/// <summary>
/// A recipe made ready on one model's labelled attempts: a fused recipe with its weights fitted
/// (its score is then already a probability, so its calibrator is the identity), any other with a
/// calibrator of its score. <see cref="Chosen"/> and <see cref="CrossValidatedLoss"/> say which
/// calibrator won and how it did out of sample (NaN when there was no choice).
/// </summary>
public sealed record CalibratedRecipe(SignalRecipe Recipe, Calibrator Calibrator, string Chosen, double CrossValidatedLoss)
{
    /// <summary>P(correct) of an attempt with these signals.</summary>
    public double Confidence(IReadOnlyDictionary<string, double> signals) => Calibrator.Calibrate(RecipeScore.Of(Recipe, signals));

    /// <summary>The recipe as it is, uncalibrated: its raw score is the confidence.</summary>
    public static CalibratedRecipe Raw(SignalRecipe recipe) => new(recipe, new IdentityCalibrator(), "identity", double.NaN);

    /// <summary>The same function `router calibrate` stores and `router policy fit` assumes, so the two agree by construction.</summary>
    public static CalibratedRecipe Fit(SignalRecipe recipe, IReadOnlyList<IReadOnlyDictionary<string, double>> signals, IReadOnlyList<bool> correct)
    {
        if (recipe.IsFused)
        {
            return new CalibratedRecipe(SignalFusion.Fit(recipe, signals, correct), new IdentityCalibrator(), "fused-logistic", double.NaN);
        }

        var fit = CalibratorFitter.Fit([.. signals.Select(s => RecipeScore.Of(recipe, s))], correct);
        return new CalibratedRecipe(recipe, fit.Calibrator, fit.Chosen, fit.CrossValidatedLoss.GetValueOrDefault(fit.Chosen, double.NaN));
    }
}
