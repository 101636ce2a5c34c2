using System.CommandLine;
using Router.Domain.Evaluation;
using Router.Domain.Traces;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router eval signals FILE`: AUROC, ECE before and after calibration and Brier, per benchmark and model.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout" };
        var bins = new Option<int>("--bins") { Description = "equal-mass bins of the ECE", DefaultValueFactory = _ => 10 };
        var signals = new Command("signals", "Calibrate each model's confidence on split=train and measure it on split=test") { file, bins };
        signals.SetAction(parse =>
        {
            var rows = AnsiConsole.Progress().Start(progress =>
            {
                var task = progress.AddTask("fitting calibrators", maxValue: 2);
                using var reader = parse.GetRequiredValue(file).OpenText();
                var traces = CascadeTrace.ReadCsv(reader).ToList();
                task.Increment(1);
                var result = SignalEvaluation.Evaluate(traces, parse.GetValue(bins));
                task.Increment(1);
                return result;
            });

            var table = new Table().AddColumns("benchmark", "model", "signal", "train", "test", "accuracy", "AUROC", "ECE raw", "ECE calibrated", "Brier raw", "Brier calibrated", "calibrator");
            foreach (var row in rows)
            {
                table.AddRow(
                    row.Benchmark,
                    row.Model,
                    row.Signal,
                    row.Train.ToString(Format.Culture),
                    row.Test.ToString(Format.Culture),
                    row.Accuracy.ToString("P1", Format.Culture),
                    row.Auroc.ToString("F3", Format.Culture),
                    row.EceRaw.ToString("F3", Format.Culture),
                    row.EceCalibrated.ToString("F3", Format.Culture),
                    row.BrierRaw.ToString("F3", Format.Culture),
                    row.BrierCalibrated.ToString("F3", Format.Culture),
                    row.Calibrator);
            }

            foreach (var benchmark in rows.GroupBy(r => r.Benchmark))
            {
                table.AddRow(
                    $"[bold]{benchmark.Key}[/]", "[bold]mean[/]", string.Empty, string.Empty, string.Empty, string.Empty,
                    benchmark.Average(r => r.Auroc).ToString("F3", Format.Culture),
                    benchmark.Average(r => r.EceRaw).ToString("F3", Format.Culture),
                    benchmark.Average(r => r.EceCalibrated).ToString("F3", Format.Culture),
                    benchmark.Average(r => r.BrierRaw).ToString("F3", Format.Culture),
                    benchmark.Average(r => r.BrierCalibrated).ToString("F3", Format.Culture),
                    string.Empty);
            }

            AnsiConsole.Write(table);
        });
        return new Command("eval", "Evaluate signals and policies on recorded traces") { signals };
    }
}
