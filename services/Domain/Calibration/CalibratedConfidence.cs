using Router.Domain.Signals;

namespace Router.Domain.Calibration;

/// <summary>An attempt's P(correct), the signal it was read from, and whether a calibrator produced it.</summary>
public readonly record struct CalibratedConfidence(double PCorrect, string Signal, bool Calibrated)
{
    /// <summary>
    /// The calibrator's reading of the signal it was fitted on; without a calibrator (or when the
    /// attempt lacks its signal) the raw exp(mean log-prob), marked uncalibrated. The Scoring service
    /// and the Gateway both score this way.
    /// </summary>
    public static CalibratedConfidence Of(IReadOnlyDictionary<string, double> signals, CalibratorArtifact? calibrator)
    {
        if (calibrator is not null && signals.TryGetValue(calibrator.Signal, out var raw))
        {
            return new CalibratedConfidence(calibrator.Calibrator.Calibrate(raw), calibrator.Signal, true);
        }

        var geometric = signals.GetValueOrDefault(SignalNames.GeometricMeanProbability, double.NaN);
        return new CalibratedConfidence(double.IsNaN(geometric) ? 0 : geometric, SignalNames.GeometricMeanProbability, false);
    }

    /// <summary>
    /// What a stage's recipe says the attempt's P(correct) is: the recipe's score
    /// (<see cref="RecipeScore"/>) read through the calibrator of (model, the recipe's signal), as
    /// `router calibrate` and `router policy fit` fit it. The default recipe (the mean log-prob,
    /// whose calibrators read the geometric-mean probability) scores as <see cref="Of"/> does. Without its calibrator a fused recipe's score is already a fitted
    /// probability (its weights are a logistic fit); any other is the raw score, marked uncalibrated.
    /// </summary>
    public static CalibratedConfidence OfRecipe(SignalRecipe recipe, IReadOnlyDictionary<string, double> signals, CalibratorArtifact? calibrator)
    {
        if (recipe.CalibratorSignal == SignalNames.GeometricMeanProbability)
        {
            return Of(signals, calibrator);
        }

        var score = RecipeScore.Of(recipe, signals);
        if (calibrator is not null && calibrator.Signal == recipe.CalibratorSignal)
        {
            return new CalibratedConfidence(calibrator.Calibrator.Calibrate(score), recipe.CalibratorSignal, true);
        }

        return new CalibratedConfidence(double.IsNaN(score) ? 0 : score, recipe.CalibratorSignal, recipe.IsFused);
    }
}
