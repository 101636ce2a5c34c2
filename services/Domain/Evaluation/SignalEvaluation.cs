using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Domain.Metrics;
using Router.Domain.Policies;
using Router.Domain.Traces;

namespace Router.Domain.Evaluation;

/// <summary>One model on one benchmark: how well its raw confidence ranks and how honest it is before and after calibration.</summary>
public sealed record SignalEvaluationRow(
    string Benchmark,
    string Model,
    string Signal,
    int Train,
    int Test,
    double Accuracy,
    double Auroc,
    double EceRaw,
    double EceCalibrated,
    double BrierRaw,
    double BrierCalibrated,
    string Calibrator)
{
    /// <summary>Test-split confidences (raw probability) of right and wrong answers, and the reliability bins before and after calibration.</summary>
    public SignalPlotData? Plot { get; init; }
}

public sealed record SignalPlotData(IReadOnlyList<double> Right, IReadOnlyList<double> Wrong, IReadOnlyList<ReliabilityBin> RawBins, IReadOnlyList<ReliabilityBin> CalibratedBins);

/// <summary>
/// Fits a calibrator per model on the train split and measures it on the test split, for every
/// benchmark that has both. The raw probability is exp(raw log-prob); -inf (extraction failed) is 0.
/// </summary>
public static class SignalEvaluation
{
    public static IReadOnlyList<SignalEvaluationRow> Evaluate(IEnumerable<CascadeTrace> traces, int bins = 10)
    {
        var rows = new List<SignalEvaluationRow>();
        foreach (var model in traces.GroupBy(t => (t.Benchmark, t.Model)).OrderBy(g => g.Key.Benchmark).ThenBy(g => g.Key.Model))
        {
            var train = model.Where(t => t.Split == "train").ToList();
            var test = model.Where(t => t.Split == "test").ToList();
            if (train.Count == 0 || test.Count == 0)
            {
                continue;
            }

            var fit = CalibratorFitter.Fit([.. train.Select(t => t.RawProbability)], [.. train.Select(t => t.Correct)]);
            var raw = test.Select(t => t.RawProbability).ToArray();
            var calibrated = raw.Select(fit.Calibrator.Calibrate).ToArray();
            var labels = test.Select(t => t.Correct).ToArray();
            rows.Add(new SignalEvaluationRow(
                model.Key.Benchmark,
                model.Key.Model,
                test[0].ConfidenceSignal,
                train.Count,
                test.Count,
                labels.Average(c => c ? 1.0 : 0.0),
                CalibrationMetrics.Auroc(raw, labels),
                CalibrationMetrics.Ece(raw, labels, bins),
                CalibrationMetrics.Ece(calibrated, labels, bins),
                CalibrationMetrics.Brier(raw, labels),
                CalibrationMetrics.Brier(calibrated, labels),
                fit.Chosen)
            {
                Plot = new SignalPlotData(
                    [.. raw.Where((_, i) => labels[i])],
                    [.. raw.Where((_, i) => !labels[i])],
                    CalibrationMetrics.EqualMassBins(raw, labels, bins),
                    CalibrationMetrics.EqualMassBins(calibrated, labels, bins)),
            });
        }

        return rows;
    }
}

/// <summary>A calibrator fitted from traces, ready to store: its name, payload and what it was fitted on.</summary>
public sealed record FittedCalibrator(string Name, CalibratorArtifact Artifact, int Answers, double CrossValidatedLoss);

/// <summary>Fits the calibrators the Scoring service loads: one per model and task family (benchmark), and one general per model.</summary>
public static class CalibrationFitting
{
    /// <summary>
    /// Per (model, benchmark) on the train split; the general one per model pools the benchmarks
    /// whose signal is the answer tokens' mean log-prob, which is what the Scoring service reads
    /// when no task family is given.
    /// </summary>
    public static IReadOnlyList<FittedCalibrator> FromTraces(IEnumerable<CascadeTrace> traces)
    {
        var train = traces.Where(t => t.Split == "train").ToList();
        var fitted = new List<FittedCalibrator>();
        foreach (var group in train.GroupBy(t => (t.Model, t.Benchmark)).OrderBy(g => g.Key.Model).ThenBy(g => g.Key.Benchmark))
        {
            var signal = group.First().ConfidenceSignal.Contains("self_verification", StringComparison.Ordinal) ? SignalNames.PTrue : SignalNames.GeometricMeanProbability;
            fitted.Add(Fit(CalibratorArtifact.Name(group.Key.Model, group.Key.Benchmark), signal, [.. group]));
        }

        foreach (var group in train.Where(t => t.ConfidenceSignal.Contains("logprob", StringComparison.Ordinal) && !t.ConfidenceSignal.Contains("self_verification", StringComparison.Ordinal)).GroupBy(t => t.Model).OrderBy(g => g.Key))
        {
            fitted.Add(Fit(group.Key, SignalNames.GeometricMeanProbability, [.. group]));
        }

        return fitted;
    }

    /// <summary>
    /// From multi-signal traces: per (model, benchmark) on the train split and per model over every
    /// benchmark, one calibrator for each single-signal recipe the traces carry, named by
    /// <see cref="CalibratorArtifact.Name(string, string?, string)"/> and fitted as `router policy fit`
    /// fits them (<see cref="CalibratedRecipe.Fit"/>). Fused recipes carry their weights in the policy
    /// and need none.
    /// </summary>
    public static IReadOnlyList<FittedCalibrator> FromSignalTraces(IEnumerable<SignalTrace> traces)
    {
        var train = traces.Where(t => t.Split == RecipeFitter.SelectionSplit).ToList();
        var groups = train.GroupBy(t => (t.Model, Family: (string?)t.Benchmark))
            .Concat(train.GroupBy(t => (t.Model, Family: (string?)null)))
            .OrderBy(g => g.Key.Model, StringComparer.Ordinal)
            .ThenBy(g => g.Key.Family ?? string.Empty, StringComparer.Ordinal);
        var fitted = new List<FittedCalibrator>();
        foreach (var group in groups)
        {
            var answers = group.ToList();
            var signals = answers.Select(t => t.Signals).ToList();
            var labels = answers.Select(t => t.Correct).ToList();
            foreach (var recipe in RecipeFitter.Candidates(answers.SelectMany(t => t.Signals.Keys).ToHashSet(StringComparer.Ordinal), RecipeFitter.RecordedSamples(answers)).Where(r => !r.IsFused))
            {
                var calibrated = CalibratedRecipe.Fit(recipe, signals, labels);
                fitted.Add(new FittedCalibrator(
                    CalibratorArtifact.Name(group.Key.Model, group.Key.Family, recipe.CalibratorSignal),
                    new CalibratorArtifact(recipe.CalibratorSignal, calibrated.Calibrator),
                    answers.Count,
                    calibrated.CrossValidatedLoss));
            }
        }

        return fitted;
    }

    /// <summary>Labels a model needs before a calibrator is fitted for it from production feedback.</summary>
    public const int MinimumLabels = 30;

    /// <summary>
    /// One general calibrator per model from labelled production answers, on the signal the
    /// Scoring service calibrates without a task family (the geometric-mean probability).
    /// </summary>
    public static IReadOnlyList<FittedCalibrator> FromLabelledSignals(IEnumerable<(string Model, IReadOnlyDictionary<string, double> Signals, bool Correct)> answers) =>
        [.. answers
            .Where(a => a.Signals.ContainsKey(SignalNames.GeometricMeanProbability))
            .GroupBy(a => a.Model)
            .Where(g => g.Count() >= MinimumLabels)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var fit = CalibratorFitter.Fit([.. g.Select(a => a.Signals[SignalNames.GeometricMeanProbability])], [.. g.Select(a => a.Correct)]);
                return new FittedCalibrator(g.Key, new CalibratorArtifact(SignalNames.GeometricMeanProbability, fit.Calibrator), g.Count(), fit.CrossValidatedLoss.GetValueOrDefault(fit.Chosen, double.NaN));
            })];

    private static FittedCalibrator Fit(string name, string signal, List<CascadeTrace> answers)
    {
        var fit = CalibratorFitter.Fit([.. answers.Select(t => t.RawProbability)], [.. answers.Select(t => t.Correct)]);
        return new FittedCalibrator(name, new CalibratorArtifact(signal, fit.Calibrator), answers.Count, fit.CrossValidatedLoss.GetValueOrDefault(fit.Chosen, double.NaN));
    }
}
