using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Gateway.Control;
using DomainSignalOptions = Router.Domain.Signals.SignalOptions;

namespace Router.Gateway.Routing;

/// <summary>
/// Scores an answer where it arrives: every signal of the design computed from its tokens (and from
/// what its stage's recipe gathered: self-verification, "do you know", samples), and the P(correct)
/// the recipe reads through the calibrator of (model, signal) as the Scoring service publishes it.
/// Pure CPU (tens of microseconds for hundreds of tokens), so cheaper than any round trip to Scoring.
/// </summary>
public sealed class AttemptScorer(CalibratorCatalog calibrators)
{
    public const int GroupWindow = 32;
    public const int TailTokens = 32;
    public const double BottomFraction = 0.1;

    public void Score(AttemptTrace attempt, GatheredAttempt gathered, SignalRecipe recipe, string? taskFamily, IReadOnlyList<string> answerOptions)
    {
        var options = new DomainSignalOptions
        {
            GroupWindow = GroupWindow,
            TailTokens = TailTokens,
            BottomFraction = BottomFraction,
            AnswerOptions = answerOptions,
        };
        var signals = gathered.Signals(options);
        foreach (var (name, value) in signals)
        {
            attempt.Signals[name] = value;
        }

        var calibrator = calibrators.Find(attempt.Model, taskFamily, recipe.CalibratorSignal);
        var confidence = CalibratedConfidence.OfRecipe(recipe, signals, calibrator?.Artifact);
        attempt.Confidence = confidence.PCorrect;
        attempt.Calibrated = confidence.Calibrated;
        attempt.CalibratorVersion = confidence.Calibrated && calibrator is not null ? calibrator.Label : null;
        if (!calibrators.Loaded)
        {
            attempt.ReasonText ??= "the calibrators could not be read from Scoring yet; confidence is the uncalibrated score of the stage's signal";
        }
    }
}
