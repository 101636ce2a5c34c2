using System.CommandLine;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Domain.Calibration;
using Router.Domain.Evaluation;
using Router.Domain.Traces;
using Router.Ledger;
using Router.Ledger.Calibration;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router calibrate FILE --connection CS`: fits calibrators from labelled traces and stores them as new versions.</summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo?>("file") { Description = "a traces.csv in the cascade-traces layout, or multi-signal traces (.jsonl); split=train rows are used", Arity = ArgumentArity.ZeroOrOne };
        var connection = new Option<string>("--connection") { Description = "PostgreSQL connection string of the ledger", Required = true };
        var fromLedger = new Option<bool>("--from-ledger") { Description = "fit on the ledger's answers that callers labelled with POST /v1/feedback instead of a file" };
        var command = new Command("calibrate", "Fit per-model (and per task family and signal) calibrators and store them as new versions in the ledger") { file, connection, fromLedger };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file);
            if (!parse.GetValue(fromLedger) && path is null)
            {
                AnsiConsole.MarkupLine("[red]Give a traces file or --from-ledger.[/]");
                return 2;
            }

            await using var services = new ServiceCollection().AddLedger(parse.GetRequiredValue(connection)).BuildServiceProvider();
            await services.MigrateLedgerAsync(cancellationToken);
            var store = services.GetRequiredService<ArtifactStore>();
            IReadOnlyList<RefittedCalibrator> refitted;
            string source;
            if (path is null)
            {
                await using var ledger = NpgsqlDataSource.Create(parse.GetRequiredValue(connection));
                refitted = await CalibrationRefit.FromLedgerAsync(ledger, store, cancellationToken);
                source = CalibrationRefit.Source;
            }
            else
            {
                // Multi-signal traces get a calibrator per (model, signal) for every signal they carry.
                using var reader = path.OpenText();
                var fitted = path.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
                    ? CalibrationFitting.FromSignalTraces([.. SignalTrace.ReadJsonl(reader)])
                    : CalibrationFitting.FromTraces(CascadeTrace.ReadCsv(reader).ToList());
                source = path.FullName;
                var saved = new List<RefittedCalibrator>();
                foreach (var calibrator in fitted)
                {
                    saved.Add(new RefittedCalibrator(calibrator, await CalibrationRefit.SaveAsync(store, calibrator, source, cancellationToken)));
                }

                refitted = saved;
            }

            if (refitted.Count == 0)
            {
                AnsiConsole.MarkupLine($"[yellow]No model has enough labelled answers (at least {CalibrationFitting.MinimumLabels}) in {Markup.Escape(source)}.[/]");
                return 1;
            }

            var table = new Table().AddColumns("calibrator", "signal", "kind", "train answers", "CV Brier+ECE", "version");
            foreach (var (calibrator, saved) in refitted)
            {
                table.AddRow(
                    // Names and signals of sampled recipes carry brackets ("agreement[m=5]"), which are markup.
                    Markup.Escape(calibrator.Name),
                    Markup.Escape(calibrator.Artifact.Signal),
                    calibrator.Artifact.Calibrator.GetType().Name,
                    calibrator.Answers.ToString(Format.Culture),
                    calibrator.CrossValidatedLoss.ToString("F4", Format.Culture),
                    saved.Version.ToString(Format.Culture));
            }

            AnsiConsole.Write(table);
            if (path is null)
            {
                await WriteBeforeAfterAsync(services, store, refitted.Select(r => r.Saved.Name).ToHashSet(StringComparer.Ordinal), cancellationToken);
            }

            return 0;
        });
        return command;
    }

    /// <summary>Each refitted calibrator's drift window measured with the versions that served it and with the new one.</summary>
    private static async Task WriteBeforeAfterAsync(ServiceProvider services, ArtifactStore store, IReadOnlySet<string> refitted, CancellationToken cancellationToken)
    {
        var options = new CalibrationDriftOptions();
        var drift = new CalibrationDriftReader(services.GetRequiredService<IDbContextFactory<LedgerDbContext>>(), store, Options.Create(options));
        var windows = await drift.MeasureAsync(await drift.LatestCalibratorsAsync(cancellationToken), DateTimeOffset.UtcNow, team: null, cancellationToken);
        var table = new Table().AddColumns("calibrator", "window labels", "before: served by (ECE, gap)", "after (ECE, gap)", "drifted after");
        foreach (var window in windows.Where(w => refitted.Contains(w.Calibrator)))
        {
            var before = window.Served.Where(s => s.Version != window.Version).Select(s => $"{CalibratorDrift.VersionName(s.Version)}: {Measured(s.Measurement)} ({s.Answers} answers)");
            table.AddRow(
                window.Calibrator,
                window.Labels.ToString(Format.Culture),
                string.Join("\n", before),
                $"{CalibratorDrift.VersionName(window.Version)}: {Measured(window.Current)}",
                window.EnoughLabels ? (window.Drifted ? "yes" : "no") : $"too few labels (< {options.MinimumLabels})");
        }

        AnsiConsole.MarkupLine($"Calibration on each drift window (the latest {options.WindowLabels} labels of the last {options.WindowAge.TotalDays:0.#} days), before and after:");
        AnsiConsole.Write(table);
    }

    private static string Measured(DriftMeasurement m) => string.Create(Format.Culture, $"ECE {m.Ece:F3}, gap {m.Gap:+0.000;-0.000;0.000}");
}
