using System.CommandLine;
using Router.Domain.Evaluation;
using Router.Domain.Policies;
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
        var output = new Option<DirectoryInfo?>("--out") { Description = "write histograms (right vs wrong) and reliability diagrams as SVG here" };
        var signals = new Command("signals", "Calibrate each model's confidence on split=train and measure it on split=test") { file, bins, output };
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
            if (parse.GetValue(output) is { } directory)
            {
                directory.Create();
                foreach (var row in rows.Where(r => r.Plot is not null))
                {
                    var name = $"{row.Benchmark}_{row.Model}";
                    File.WriteAllText(Path.Combine(directory.FullName, name + "_histogram.svg"), SvgCharts.Histogram($"{row.Model} on {row.Benchmark}: {row.Signal}", row.Plot!.Right, row.Plot.Wrong));
                    File.WriteAllText(Path.Combine(directory.FullName, name + "_reliability.svg"), SvgCharts.Reliability($"{row.Model} on {row.Benchmark}: reliability ({row.Calibrator})", row.Plot.RawBins, row.Plot.CalibratedBins));
                }

                AnsiConsole.MarkupLine($"wrote {rows.Count * 2} SVG charts to {Markup.Escape(directory.FullName)}");
            }
        });
        return new Command("eval", "Evaluate signals and policies on recorded traces") { signals, Route(), EvalEarlyCommand.Create() };
    }

    private static Command Route()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout" };
        var splits = new Option<int>("--splits") { Description = "random calibration/evaluation splits (R)", DefaultValueFactory = _ => 200 };
        var eps = new Option<double>("--eps") { Description = "allowed accuracy loss versus the top model (fraction)", DefaultValueFactory = _ => 0.01 };
        var delta = new Option<double>("--delta") { Description = "allowed probability that the loss exceeds eps", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "seed of the random splits", DefaultValueFactory = _ => 1 };
        var route = new Command("route", "Fit escalation thresholds on random calibration halves and measure them on the other halves") { file, splits, eps, delta, seed };
        route.SetAction(parse =>
        {
            using var reader = parse.GetRequiredValue(file).OpenText();
            var traces = CascadeTrace.ReadCsv(reader).ToList();
            var benchmarks = RouteEvaluation.Benchmarks(traces);
            var rows = new List<RouteEvaluationRow>();
            AnsiConsole.Progress().Start(progress =>
            {
                var task = progress.AddTask("fitting and replaying", maxValue: benchmarks.Count * RouteEvaluation.AcceptanceChains.Count);
                foreach (var benchmark in benchmarks)
                {
                    foreach (var chain in RouteEvaluation.AcceptanceChains)
                    {
                        var data = ChainData.FromTraces(traces, benchmark, chain);
                        if (data.Queries >= 2)
                        {
                            rows.AddRange(RouteEvaluation.Evaluate(data, benchmark, parse.GetValue(splits), parse.GetValue(eps), parse.GetValue(delta), parse.GetValue(seed)));
                        }

                        task.Increment(1);
                    }
                }
            });

            var table = new Table().AddColumns("benchmark", "chain", "method", "queries", "top accuracy", "accuracy change", "cost saved", "ceiling", "escalation rate per stage", "loss > eps", "fitted chain (share of splits)");
            foreach (var row in rows)
            {
                table.AddRow(
                    row.Benchmark,
                    row.Chain,
                    row.Method,
                    row.Queries.ToString(Format.Culture),
                    row.TopAccuracy.ToString("P1", Format.Culture),
                    (row.MeanAccuracyChange * 100).ToString("+0.00;-0.00", Format.Culture) + " pt",
                    row.MeanCostSaved.ToString("P1", Format.Culture),
                    row.MeanCeilingCostSaved.ToString("P1", Format.Culture),
                    string.Join(" / ", row.MeanEscalationRate.Select(r => r.ToString("P0", Format.Culture))),
                    row.ViolationRate.ToString("P1", Format.Culture),
                    $"{row.CommonChain} ({row.CommonChainShare.ToString("P0", Format.Culture)})");
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"R = {parse.GetValue(splits)} splits, eps = {parse.GetValue(eps) * 100:0.##} pt, delta = {parse.GetValue(delta)}; 'loss > eps' must stay <= delta.");
            AnsiConsole.MarkupLine("ceiling: the best single first>top threshold chosen on each evaluation half itself (loss <= eps there), or the top model alone; no honest method reaches it.");
        });
        return route;
    }
}
