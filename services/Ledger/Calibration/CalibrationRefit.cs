using System.Text.Json;
using Npgsql;
using Router.Domain.Evaluation;
using Router.Ledger.Reports;

namespace Router.Ledger.Calibration;

/// <summary>A calibrator fitted from the ledger's feedback and the version it was stored as.</summary>
public sealed record RefittedCalibrator(FittedCalibrator Fitted, ModelArtifact Saved);

/// <summary>`router calibrate --from-ledger`: refits calibrators on the answers callers labelled.</summary>
public static class CalibrationRefit
{
    public const string Source = "ledger feedback";

    /// <summary>Fits one general calibrator per model with enough labels and stores each as a new version.</summary>
    public static async Task<IReadOnlyList<RefittedCalibrator>> FromLedgerAsync(NpgsqlDataSource ledger, ArtifactStore store, CancellationToken cancellationToken)
    {
        var labelled = await LabelledAttempts.ReadAsync(ledger, cancellationToken);
        var refitted = new List<RefittedCalibrator>();
        foreach (var fitted in CalibrationFitting.FromLabelledSignals(labelled.Select(a => (a.Model, a.Signals, a.Correct))))
        {
            refitted.Add(new RefittedCalibrator(fitted, await SaveAsync(store, fitted, Source, cancellationToken)));
        }

        return refitted;
    }

    /// <summary>Stores a fitted calibrator as the next version of its name, with where it was fitted from.</summary>
    public static Task<ModelArtifact> SaveAsync(ArtifactStore store, FittedCalibrator fitted, string source, CancellationToken cancellationToken)
    {
        var provenance = JsonSerializer.Serialize(new { source, answers = fitted.Answers, fitted_by = "router calibrate" });
        return store.SaveNewVersionAsync(ArtifactKinds.Calibrator, fitted.Name, fitted.Artifact.ToJson(), provenance, cancellationToken);
    }
}
