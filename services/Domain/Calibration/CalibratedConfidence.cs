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
}
