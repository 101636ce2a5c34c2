using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Evaluation;
using Router.Domain.Traces;
using Npgsql;
using Router.Ledger;
using Router.Ledger.Reports;
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
            IReadOnlyList<FittedCalibrator> fitted;
            string source;
            if (parse.GetValue(fromLedger))
            {
                await using var ledger = NpgsqlDataSource.Create(parse.GetRequiredValue(connection));
                var labelled = await LabelledAttempts.ReadAsync(ledger, cancellationToken);
                fitted = CalibrationFitting.FromLabelledSignals(labelled.Select(a => (a.Model, a.Signals, a.Correct)));
                source = "ledger feedback";
            }
            else if (parse.GetValue(file) is { } path)
            {
                // Multi-signal traces get a calibrator per (model, signal) for every signal they carry.
                using var reader = path.OpenText();
                fitted = path.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
                    ? CalibrationFitting.FromSignalTraces([.. SignalTrace.ReadJsonl(reader)])
                    : CalibrationFitting.FromTraces(CascadeTrace.ReadCsv(reader).ToList());
                source = path.FullName;
            }
            else
            {
                AnsiConsole.MarkupLine("[red]Give a traces file or --from-ledger.[/]");
                return 2;
            }

            if (fitted.Count == 0)
            {
                AnsiConsole.MarkupLine($"[yellow]No model has enough labelled answers (at least {CalibrationFitting.MinimumLabels}) in {Markup.Escape(source)}.[/]");
                return 1;
            }

            await using var services = new ServiceCollection().AddLedger(parse.GetRequiredValue(connection)).BuildServiceProvider();
            await services.MigrateLedgerAsync(cancellationToken);
            var store = services.GetRequiredService<ArtifactStore>();
            var table = new Table().AddColumns("calibrator", "signal", "kind", "train answers", "CV Brier+ECE", "version");
            foreach (var calibrator in fitted)
            {
                var provenance = JsonSerializer.Serialize(new { source, answers = calibrator.Answers, fitted_by = "router calibrate" });
                var saved = await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, calibrator.Name, calibrator.Artifact.ToJson(), provenance, cancellationToken);
                table.AddRow(
                    calibrator.Name,
                    calibrator.Artifact.Signal,
                    calibrator.Artifact.Calibrator.GetType().Name,
                    calibrator.Answers.ToString(Format.Culture),
                    calibrator.CrossValidatedLoss.ToString("F4", Format.Culture),
                    saved.Version.ToString(Format.Culture));
            }

            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
