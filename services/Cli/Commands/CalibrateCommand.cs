using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Evaluation;
using Router.Domain.Traces;
using Router.Ledger;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router calibrate FILE --connection CS`: fits calibrators from labelled traces and stores them as new versions.</summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout (split=train rows are used)" };
        var connection = new Option<string>("--connection") { Description = "PostgreSQL connection string of the ledger", Required = true };
        var command = new Command("calibrate", "Fit per-model (and per task family) calibrators and store them as new versions in the ledger") { file, connection };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(file);
            using var reader = path.OpenText();
            var fitted = CalibrationFitting.FromTraces(CascadeTrace.ReadCsv(reader).ToList());

            await using var services = new ServiceCollection().AddLedger(parse.GetRequiredValue(connection)).BuildServiceProvider();
            await services.MigrateLedgerAsync(cancellationToken);
            var store = services.GetRequiredService<ArtifactStore>();
            var table = new Table().AddColumns("calibrator", "signal", "kind", "train answers", "CV Brier+ECE", "version");
            foreach (var calibrator in fitted)
            {
                var provenance = JsonSerializer.Serialize(new { source = path.FullName, split = "train", answers = calibrator.Answers, fitted_by = "router calibrate" });
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
        });
        return command;
    }
}
