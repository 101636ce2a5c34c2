using Microsoft.Extensions.Time.Testing;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Calibration;

/// <summary>Drift statistics on hand-computed values and on synthetic windows whose true calibration is known.</summary>
public sealed class CalibrationDriftTests
{
    private const string Model = "llama3.1-8b";
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly CalibrationDriftOptions Options = new();

    [Theory]
    [InlineData(0.5, 0)]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.995, 2.575829303548901)]
    [InlineData(0.9, 1.281551565544601)]
    [InlineData(0.01, -2.326347874040841)]
    [InlineData(1e-6, -4.753424308822899)]
    public void The_normal_quantile_matches_tabulated_values(double p, double z)
    {
        Assert.Equal(z, DriftStatistics.NormalQuantile(p), 1e-8);
        Assert.Equal(-z, DriftStatistics.NormalQuantile(1 - p), 1e-8);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(double.NaN)]
    public void The_normal_quantile_refuses_what_is_not_an_open_probability(double p) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftStatistics.NormalQuantile(p));

    [Fact]
    public void Wilson_intervals_match_hand_computed_values_and_stay_inside_0_and_1()
    {
        // 8 of 10 at z = 1.96: centre (0.8 + 0.19208) / 1.38416, half 1.96 * sqrt(0.016 + 0.009604) / 1.38416.
        var (low, high) = DriftStatistics.Wilson(8, 10, 1.96);
        Assert.Equal(0.490157, low, 1e-6);
        Assert.Equal(0.943319, high, 1e-6);

        var none = DriftStatistics.Wilson(0, 10, 1.96);
        Assert.Equal(0, none.Low, 12);
        Assert.Equal(3.8416 / 10 / (1 + 3.8416 / 10), none.High, 12);
        var all = DriftStatistics.Wilson(10, 10, 1.96);
        Assert.Equal(1 - none.High, all.Low, 12);
        Assert.Equal(1, all.High, 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftStatistics.Wilson(11, 10, 1.96));
    }

    [Fact]
    public void A_small_window_is_measured_in_one_bin_with_the_gap_interval_from_wilson()
    {
        var measurement = DriftStatistics.Measure([.. Enumerable.Repeat(0.8, 10)], [true, true, true, true, true, true, false, false, false, false], 0.95, 10, 200);

        var (low, high) = DriftStatistics.Wilson(6, 10, DriftStatistics.NormalQuantile(0.975));
        Assert.Equal(10, measurement.Labels);
        Assert.Equal(0.6, measurement.Accuracy, 12);
        Assert.Equal(0.8, measurement.MeanConfidence, 12);
        Assert.Equal(-0.2, measurement.Gap, 12);
        Assert.Equal(low - 0.8, measurement.GapLow, 12);
        Assert.Equal(high - 0.8, measurement.GapHigh, 12);
        Assert.Equal(0.2, measurement.Ece, 12);
        Assert.InRange(measurement.Ece, measurement.EceLow, measurement.EceHigh);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(49, 1)]
    [InlineData(100, 2)]
    [InlineData(499, 9)]
    [InlineData(5000, 10)]
    public void Small_windows_get_fewer_bins_so_each_holds_at_least_50_answers(int labels, int bins) =>
        Assert.Equal(bins, DriftStatistics.BinsFor(labels, 10));

    [Fact]
    public void Measuring_the_same_window_twice_gives_the_same_intervals()
    {
        var window = Window(seed: 4, 300, truth: p => p);

        var first = Assess(window).Single();
        var second = Assess(window).Single();

        Assert.Equal(first.Current, second.Current);
    }

    [Fact]
    public void Calibrated_windows_are_never_called_drifted_and_the_gap_interval_covers_zero_at_its_level()
    {
        var windows = Enumerable.Range(0, 100).Select(seed => Assess(Window(seed, 300, truth: p => p)).Single()).ToList();

        Assert.All(windows, w => Assert.True(w.EnoughLabels));
        Assert.All(windows, w => Assert.False(w.Drifted, w.Reason));
        var covered = windows.Count(w => w.Current.GapLow <= 0 && w.Current.GapHigh >= 0);
        Assert.InRange(covered, 90, 100);
        Assert.InRange(windows.Average(w => w.Current.Ece), 0, 0.07);
    }

    [Fact]
    public void Overconfidence_beyond_the_bound_is_drift_and_says_so()
    {
        var windows = Enumerable.Range(0, 50).Select(seed => Assess(Window(seed, 300, truth: p => p - 0.25)).Single()).ToList();

        Assert.All(windows, w => Assert.True(w.Drifted));
        Assert.All(windows, w => Assert.Contains("overconfident", w.Reason, StringComparison.Ordinal));
        Assert.InRange(windows.Average(w => w.Current.Gap), -0.27, -0.23);
    }

    [Fact]
    public void Underconfidence_beyond_the_bound_is_drift_too()
    {
        var drift = Assess(Window(seed: 1, 400, truth: p => p + 0.2)).Single();

        Assert.True(drift.Drifted);
        Assert.Contains("underconfident", drift.Reason, StringComparison.Ordinal);
        Assert.True(drift.Current.GapLow > Options.MaxGap);
    }

    [Fact]
    public void Miscalibration_whose_mean_gap_is_zero_is_caught_by_the_ece()
    {
        // Confident answers are right only 60% of the time and unsure ones 60% too: the means agree.
        var drift = Assess(Window(seed: 2, 400, truth: _ => 0.6, raw: i => i % 2 == 0 ? 0.9 : 0.3)).Single();

        Assert.True(drift.Drifted);
        Assert.True(drift.Current.GapLow < Options.MaxGap && drift.Current.GapHigh > -Options.MaxGap);
        Assert.InRange(drift.Current.Ece, 0.25, 0.35);
        Assert.StartsWith("ECE", drift.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("confident:", drift.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_window_with_fewer_labels_than_the_minimum_is_measured_but_never_drifted()
    {
        var drift = Assess(Window(seed: 3, Options.MinimumLabels - 1, truth: p => p - 0.5)).Single();

        Assert.False(drift.EnoughLabels);
        Assert.False(drift.Drifted);
        Assert.Null(drift.Reason);
        Assert.Equal(Options.MinimumLabels - 1, drift.Labels);
        Assert.True(drift.Current.Gap < -0.3);
    }

    [Fact]
    public void The_window_slides_by_age_and_keeps_only_the_most_recent_labels()
    {
        var time = new FakeTimeProvider(Start);
        var options = new CalibrationDriftOptions { WindowLabels = 300, WindowAge = TimeSpan.FromDays(2), MinimumLabels = 100 };

        // 200 overconfident labels, one a minute, then (a day later) 300 calibrated ones.
        var drifted = Window(seed: 5, 200, truth: p => p - 0.3, start: time.GetUtcNow());
        time.Advance(TimeSpan.FromDays(1));
        var calibrated = Window(seed: 6, 300, truth: p => p, start: time.GetUtcNow());
        time.Advance(TimeSpan.FromHours(5));
        var answers = drifted.Concat(calibrated).ToList();

        var byCount = Measure(answers, time, options);
        Assert.Equal(300, byCount.Labels);
        Assert.Equal(calibrated.Min(a => a.LabelledAt), byCount.OldestLabel);
        Assert.False(byCount.Drifted);

        var wide = new CalibrationDriftOptions { WindowLabels = 1000, WindowAge = TimeSpan.FromDays(2), MinimumLabels = 100 };
        Assert.Equal(500, Measure(answers, time, wide).Labels);

        // A day later the overconfident labels are older than the window.
        time.Advance(TimeSpan.FromDays(1));
        var aged = Measure(answers, time, wide);
        Assert.Equal(300, aged.Labels);
        Assert.False(aged.Drifted, aged.Reason);

        // Once the first 150 calibrated labels are two days old, 150 remain.
        time.Advance(TimeSpan.FromHours(21.5));
        var half = Measure(answers, time, wide);
        Assert.Equal(150, half.Labels);
        Assert.Equal(calibrated[150].LabelledAt, half.OldestLabel);

        time.Advance(TimeSpan.FromDays(1));
        Assert.Empty(CalibrationDrift.Assess(answers, Current(new IdentityCalibrator()), new Dictionary<(string, int), CalibratorArtifact>(), time.GetUtcNow(), wide));
    }

    private static CalibratorDrift Measure(IReadOnlyList<LabelledConfidence> answers, TimeProvider time, CalibrationDriftOptions options) =>
        CalibrationDrift.Assess(answers, Current(new IdentityCalibrator()), new Dictionary<(string, int), CalibratorArtifact>(), time.GetUtcNow(), options).Single();

    [Fact]
    public void After_a_refit_the_window_is_measured_against_the_new_version_and_the_old_one_is_the_before()
    {
        // Version 1 adds +1.2 in logits to a raw score that is itself calibrated: overconfident.
        var v1 = new CalibratorArtifact(SignalNames.GeometricMeanProbability, new PlattCalibrator(1, 1.2));
        var served = Window(seed: 7, 400, truth: p => p, served: (v1, 1));
        var stale = CalibrationDrift.Assess(served, Current(v1.Calibrator, version: 1), new Dictionary<(string, int), CalibratorArtifact>(), Now(served), Options).Single();
        Assert.True(stale.Drifted);
        Assert.Equal(1, stale.Version);
        Assert.Equal(stale.Current, Assert.Single(stale.Served).Measurement);

        var current = Current(new IdentityCalibrator(), version: 2);
        Assert.Equal([(Model, 1)], CalibrationDrift.EarlierVersions(served, current));
        var refit = CalibrationDrift.Assess(served, current, new Dictionary<(string, int), CalibratorArtifact> { [(Model, 1)] = v1 }, Now(served), Options).Single();

        Assert.False(refit.Drifted);
        Assert.Equal(2, refit.Version);
        var before = Assert.Single(refit.Served);
        Assert.Equal((1, 400), (before.Version, before.Answers));
        Assert.Equal(stale.Current, before.Measurement);
        Assert.True(refit.Current.Ece < before.Measurement.Ece / 2);
    }

    [Fact]
    public void The_served_confidence_is_what_the_calibrator_gives_the_stored_signal()
    {
        var v1 = new CalibratorArtifact(SignalNames.GeometricMeanProbability, new PlattCalibrator(0.5, -0.3));
        var served = Window(seed: 8, 50, truth: p => p, served: (v1, 1));

        var drift = CalibrationDrift.Assess(served, Current(v1.Calibrator, version: 1), new Dictionary<(string, int), CalibratorArtifact>(), Now(served), Options).Single();

        Assert.Equal(served.Average(a => a.Confidence), drift.Current.MeanConfidence, 12);
    }

    [Fact]
    public void Uncalibrated_answers_are_in_the_models_general_window_measured_on_the_raw_probability_until_a_calibrator_exists()
    {
        var answers = Window(seed: 9, 300, truth: p => p - 0.3);
        Assert.All(answers, a => Assert.Null(a.Calibrator));

        var raw = CalibrationDrift.Assess(answers, new Dictionary<string, VersionedCalibrator>(), new Dictionary<(string, int), CalibratorArtifact>(), Now(answers), Options).Single();
        Assert.Equal((Model, Model, (int?)null), (raw.Model, raw.Calibrator, raw.Version));
        Assert.True(raw.Drifted);
        Assert.Equal(answers.Average(a => a.Signals[SignalNames.GeometricMeanProbability]), raw.Current.MeanConfidence, 12);

        var fitted = CalibratorFitter.Fit([.. answers.Select(a => a.Signals[SignalNames.GeometricMeanProbability])], [.. answers.Select(a => a.Correct)]).Calibrator;
        var calibrated = CalibrationDrift.Assess(answers, Current(fitted, version: 1), new Dictionary<(string, int), CalibratorArtifact>(), Now(answers), Options).Single();
        Assert.False(calibrated.Drifted, calibrated.Reason);
        var before = Assert.Single(calibrated.Served);
        Assert.Null(before.Version);
        Assert.Equal(raw.Current, before.Measurement);
    }

    [Fact]
    public void Each_model_and_calibrator_has_its_own_window()
    {
        var general = Window(seed: 10, 250, truth: p => p);
        var mmlu = Window(seed: 11, 250, truth: p => p - 0.3, served: (new CalibratorArtifact(SignalNames.GeometricMeanProbability, new IdentityCalibrator()), 3), calibrator: $"{Model}/mmlu");
        var other = Window(seed: 12, 250, truth: p => p, model: "gpt-4o");
        var current = new Dictionary<string, VersionedCalibrator>
        {
            [Model] = new(1, new CalibratorArtifact(SignalNames.GeometricMeanProbability, new IdentityCalibrator())),
            [$"{Model}/mmlu"] = new(3, new CalibratorArtifact(SignalNames.GeometricMeanProbability, new IdentityCalibrator())),
        };

        var windows = CalibrationDrift.Assess([.. general, .. mmlu, .. other], current, new Dictionary<(string, int), CalibratorArtifact>(), Now(general), Options);

        Assert.Equal([("gpt-4o", "gpt-4o", false), (Model, Model, false), (Model, $"{Model}/mmlu", true)], windows.Select(w => (w.Model, w.Calibrator, w.Drifted)));
        Assert.Equal([null, 1, 3], windows.Select(w => w.Version));
    }

    [Fact]
    public void The_summary_names_the_model_version_window_ece_and_gap_with_intervals()
    {
        var drift = Assess(Window(seed: 13, 300, truth: p => p - 0.25)).Single();

        var summary = drift.Summary(0.95);

        Assert.StartsWith($"{Model} (calibrator {Model} v1): 300 labels from ", summary, StringComparison.Ordinal);
        Assert.Contains($"ECE {drift.Current.Ece:F3} (95% CI {drift.Current.EceLow:F3} to {drift.Current.EceHigh:F3})", summary, StringComparison.Ordinal);
        Assert.Contains($"gap -{-drift.Current.Gap:F3} (95% CI -{-drift.Current.GapLow:F3} to -{-drift.Current.GapHigh:F3})", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gap_that_rounds_to_zero_reads_as_zero_whatever_its_sign()
    {
        var drift = Assess(Window(seed: 13, 300, truth: p => p)).Single() with
        {
            Current = new DriftMeasurement(300, 0.7, 0.7002, -0.0002, -0.0004, 0.0003, 0.02, 0.01, 0.03),
        };

        Assert.Contains("gap 0.000 (95% CI 0.000 to 0.000)", drift.Summary(0.95), StringComparison.Ordinal);
    }

    [Fact]
    public void Default_options_are_valid_and_each_bad_setting_is_named()
    {
        Assert.Empty(new CalibrationDriftOptions().Problems());

        var bad = new CalibrationDriftOptions
        {
            WindowLabels = 0,
            WindowAge = TimeSpan.Zero,
            MaxEce = 0,
            MaxGap = 1.5,
            ConfidenceLevel = 1,
            Bins = 0,
            BootstrapResamples = 5,
            Interval = TimeSpan.FromMilliseconds(10),
        };

        var problems = bad.Problems().ToList();
        foreach (var key in new[] { "WindowLabels", "WindowAge", "MinimumLabels", "MaxEce", "MaxGap", "ConfidenceLevel", "Bins", "BootstrapResamples", "Interval" })
        {
            Assert.Contains(problems, p => p.StartsWith($"CalibrationDrift:{key} ", StringComparison.Ordinal));
        }
    }

    private static IReadOnlyList<CalibratorDrift> Assess(IReadOnlyList<LabelledConfidence> answers) =>
        CalibrationDrift.Assess(answers, Current(new IdentityCalibrator()), new Dictionary<(string, int), CalibratorArtifact>(), Now(answers), Options);

    private static Dictionary<string, VersionedCalibrator> Current(Calibrator calibrator, int version = 1) =>
        new() { [Model] = new VersionedCalibrator(version, new CalibratorArtifact(SignalNames.GeometricMeanProbability, calibrator)) };

    private static DateTimeOffset Now(IReadOnlyList<LabelledConfidence> answers) => answers.Max(a => a.LabelledAt);

    /// <summary>
    /// Labelled answers, one a minute from <paramref name="start"/>: raw scores between 0.3 and 0.95
    /// (or <paramref name="raw"/>), right with probability <paramref name="truth"/>(raw), and served by
    /// <paramref name="served"/> (uncalibrated when null, the confidence then being the raw score).
    /// </summary>
    private static List<LabelledConfidence> Window(
        int seed,
        int count,
        Func<double, double> truth,
        Func<int, double>? raw = null,
        (CalibratorArtifact Artifact, int Version)? served = null,
        string? calibrator = null,
        string model = Model,
        DateTimeOffset? start = null)
    {
        var random = new Random(seed);
        return
        [
            .. Enumerable.Range(0, count).Select(i =>
            {
                var score = raw?.Invoke(i) ?? 0.3 + 0.65 * random.NextDouble();
                var correct = random.NextDouble() < Math.Clamp(truth(score), 0, 1);
                var signals = new Dictionary<string, double> { [SignalNames.GeometricMeanProbability] = score };
                return new LabelledConfidence(
                    model,
                    served is null ? null : calibrator ?? model,
                    served?.Version,
                    served?.Artifact.Calibrator.Calibrate(score) ?? score,
                    signals,
                    correct,
                    (start ?? Start).AddMinutes(i));
            }),
        ];
    }
}
