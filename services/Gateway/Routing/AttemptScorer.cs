using Router.Contracts;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Gateway.Control;
using DomainSignalOptions = Router.Domain.Signals.SignalOptions;

namespace Router.Gateway.Routing;

/// <summary>
/// Scores an answer where it arrives: every signal of the design computed from its tokens, and the
/// P(correct) read through the model's calibrator as the Scoring service publishes it. Pure CPU
/// (tens of microseconds for hundreds of tokens), so cheaper than any round trip to Scoring.
/// </summary>
public sealed class AttemptScorer(CalibratorCatalog calibrators)
{
    public const int GroupWindow = 32;
    public const int TailTokens = 32;
    public const double BottomFraction = 0.1;

    public void Score(AttemptTrace attempt, GenerateResponse response, string? taskFamily, IReadOnlyList<string> answerOptions)
    {
        var tokens = new AttemptTokens(
            [.. response.Tokens.Select(t => t.Token)],
            [.. response.Tokens.Select(t => t.Logprob)],
            [.. response.Tokens.Select(t => (IReadOnlyList<(string, double)>)[.. t.TopLogprobs.Select(a => (a.Token, a.Logprob))])]);
        var options = new DomainSignalOptions
        {
            GroupWindow = GroupWindow,
            TailTokens = TailTokens,
            BottomFraction = BottomFraction,
            AnswerOptions = answerOptions,
        };
        var signals = AttemptSignals.Compute(tokens, options, response.Text);
        foreach (var (name, value) in signals)
        {
            attempt.Signals[name] = value;
        }

        var calibrator = calibrators.Find(attempt.Model, taskFamily);
        var confidence = CalibratedConfidence.Of(signals, calibrator?.Artifact);
        attempt.Confidence = confidence.PCorrect;
        attempt.Calibrated = confidence.Calibrated;
        attempt.CalibratorVersion = confidence.Calibrated ? calibrator!.Label : null;
        if (!calibrators.Loaded)
        {
            attempt.ReasonText = "the calibrators could not be read from Scoring yet; confidence is the uncalibrated exp(mean log-prob)";
        }
    }
}
