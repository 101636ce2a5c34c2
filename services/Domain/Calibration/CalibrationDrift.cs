using System.Globalization;

namespace Router.Domain.Calibration;

/// <summary>
/// An answer a caller labelled, with what it was served with: the calibrator (name and version;
/// null when it was scored uncalibrated), its calibrated confidence and its raw signals, so that
/// another calibrator version can score it again.
/// </summary>
public sealed record LabelledConfidence(
    string Model,
    string? Calibrator,
    int? CalibratorVersion,
    double Confidence,
    IReadOnlyDictionary<string, double> Signals,
    bool Correct,
    DateTimeOffset LabelledAt)
{
    /// <summary>The calibrator whose window the answer is in: the one that served it, else the model's general one.</summary>
    public string WindowCalibrator => Calibrator ?? Model;
}

/// <summary>A calibrator with the version it was stored as.</summary>
public sealed record VersionedCalibrator(int Version, CalibratorArtifact Artifact);

/// <summary>A calibrator version that served answers of a window, measured on the whole window (null version: uncalibrated).</summary>
public sealed record ServedCalibration(int? Version, int Answers, DriftMeasurement Measurement);

/// <summary>
/// One calibrator's window: the current version (null when none is stored) measured against the
/// labels, every version that served the window's answers measured on the same window (the
/// before/after of a refit), and whether it drifted beyond the configured bounds.
/// </summary>
public sealed record CalibratorDrift(
    string Model,
    string Calibrator,
    int? Version,
    DateTimeOffset OldestLabel,
    DateTimeOffset NewestLabel,
    DriftMeasurement Current,
    IReadOnlyList<ServedCalibration> Served,
    bool EnoughLabels,
    bool Drifted,
    string? Reason)
{
    public int Labels => Current.Labels;

    /// <summary>One line naming the model, calibrator version, window, ECE and gap with their intervals.</summary>
    public string Summary(double level) => string.Create(
        CultureInfo.InvariantCulture,
        $"{Model} (calibrator {Calibrator} {VersionName(Version)}): {Labels} labels from {OldestLabel:yyyy-MM-dd HH:mm} to {NewestLabel:yyyy-MM-dd HH:mm} UTC, "
        + $"ECE {Current.Ece:F3} ({level * 100:0}% CI {Current.EceLow:F3} to {Current.EceHigh:F3}), "
        + $"gap {Current.Gap:+0.000;-0.000;0.000} ({level * 100:0}% CI {Current.GapLow:+0.000;-0.000;0.000} to {Current.GapHigh:+0.000;-0.000;0.000}), "
        + $"accuracy {Current.Accuracy:F3} at mean confidence {Current.MeanConfidence:F3}");

    public static string VersionName(int? version) => version is { } v ? $"v{v.ToString(CultureInfo.InvariantCulture)}" : "uncalibrated";
}

/// <summary>
/// Compares labelled feedback with calibrated confidence, per model and calibrator, over a
/// sliding window of the most recent labels (by count and age). The window is measured against
/// the calibrator version that serves now, scoring its answers again from their raw signals, so a
/// refit that is loaded clears the drift of the answers it was fitted to.
/// </summary>
public static class CalibrationDrift
{
    /// <summary>
    /// The windows of <paramref name="answers"/> at <paramref name="now"/>, each measured against
    /// the <paramref name="current"/> calibrator of its name and against every version in
    /// <paramref name="served"/> that served some of its answers (versions missing there are left out).
    /// </summary>
    public static IReadOnlyList<CalibratorDrift> Assess(
        IEnumerable<LabelledConfidence> answers,
        IReadOnlyDictionary<string, VersionedCalibrator> current,
        IReadOnlyDictionary<(string Calibrator, int Version), CalibratorArtifact> served,
        DateTimeOffset now,
        CalibrationDriftOptions options)
    {
        var since = now - options.WindowAge;
        return
        [
            .. answers
                .Where(a => a.LabelledAt >= since && a.LabelledAt <= now)
                .GroupBy(a => (a.Model, a.WindowCalibrator))
                .OrderBy(g => g.Key.Model, StringComparer.Ordinal)
                .ThenBy(g => g.Key.WindowCalibrator, StringComparer.Ordinal)
                .Select(g => AssessWindow(g.Key.Model, g.Key.WindowCalibrator, [.. g.OrderByDescending(a => a.LabelledAt).Take(options.WindowLabels)], current, served, options)),
        ];
    }

    /// <summary>The versions, other than the current ones, that served answers: what a host loads for <see cref="Assess"/>.</summary>
    public static IReadOnlyList<(string Calibrator, int Version)> EarlierVersions(IEnumerable<LabelledConfidence> answers, IReadOnlyDictionary<string, VersionedCalibrator> current) =>
        [
            .. answers
                .Where(a => a.Calibrator is not null && a.CalibratorVersion is { } version && current.GetValueOrDefault(a.Calibrator)?.Version != version)
                .Select(a => (a.Calibrator!, a.CalibratorVersion!.Value))
                .Distinct(),
        ];

    private static CalibratorDrift AssessWindow(
        string model,
        string calibrator,
        IReadOnlyList<LabelledConfidence> window,
        IReadOnlyDictionary<string, VersionedCalibrator> current,
        IReadOnlyDictionary<(string Calibrator, int Version), CalibratorArtifact> served,
        CalibrationDriftOptions options)
    {
        var labels = window.Select(a => a.Correct).ToArray();
        // Scored as serving scores (a null calibrator: the uncalibrated confidence).
        DriftMeasurement Measure(CalibratorArtifact? artifact) => DriftStatistics.Measure(
            [.. window.Select(a => CalibratedConfidence.Of(a.Signals, artifact).PCorrect)],
            labels,
            options.ConfidenceLevel,
            options.Bins,
            options.BootstrapResamples);

        var now = current.GetValueOrDefault(calibrator);
        var measurement = Measure(now?.Artifact);
        var versions = new List<ServedCalibration>();
        foreach (var group in window.GroupBy(a => a.CalibratorVersion).OrderBy(g => g.Key ?? 0))
        {
            if (group.Key == now?.Version)
            {
                versions.Add(new ServedCalibration(group.Key, group.Count(), measurement));
            }
            else if (group.Key is not { } version)
            {
                versions.Add(new ServedCalibration(null, group.Count(), Measure(null)));
            }
            else if (served.TryGetValue((calibrator, version), out var earlier))
            {
                versions.Add(new ServedCalibration(version, group.Count(), Measure(earlier)));
            }
        }

        var enough = measurement.Labels >= options.MinimumLabels;
        var reason = enough ? Reason(measurement, options) : null;
        return new CalibratorDrift(
            model,
            calibrator,
            now?.Version,
            window.Min(a => a.LabelledAt),
            window.Max(a => a.LabelledAt),
            measurement,
            versions,
            enough,
            reason is not null,
            reason);
    }

    /// <summary>Why a window drifted, or null: the ECE surely above its bound, or the gap surely beyond its bound.</summary>
    private static string? Reason(DriftMeasurement m, CalibrationDriftOptions options)
    {
        var level = options.ConfidenceLevel;
        var reasons = new List<string>();
        if (m.EceLow > options.MaxEce)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"ECE {m.Ece:F3} is above {options.MaxEce:0.###} (its {level * 100:0}% interval starts at {m.EceLow:F3})"));
        }

        if (m.GapHigh < -options.MaxGap)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"overconfident: accuracy {m.Accuracy:F3} is {-m.Gap:F3} below the mean confidence {m.MeanConfidence:F3} (gap {level * 100:0}% interval {m.GapLow:+0.000;-0.000;0.000} to {m.GapHigh:+0.000;-0.000;0.000}, bound -{options.MaxGap:0.###})"));
        }
        else if (m.GapLow > options.MaxGap)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"underconfident: accuracy {m.Accuracy:F3} is {m.Gap:F3} above the mean confidence {m.MeanConfidence:F3} (gap {level * 100:0}% interval {m.GapLow:+0.000;-0.000;0.000} to {m.GapHigh:+0.000;-0.000;0.000}, bound +{options.MaxGap:0.###})"));
        }

        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }
}
