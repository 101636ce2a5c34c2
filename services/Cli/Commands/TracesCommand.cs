using System.CommandLine;
using Router.Domain.Traces;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router traces summary FILE`: what a trace file holds, per benchmark, split and model.</summary>
internal static class TracesCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout" };
        var summary = new Command("summary", "Accuracy, confidence and cost per benchmark, split and model") { file };
        summary.SetAction(parse =>
        {
            using var reader = parse.GetRequiredValue(file).OpenText();
            var table = new Table().AddColumns("benchmark", "split", "model", "queries", "accuracy", "mean log-prob", "USD / 1k queries");
            foreach (var group in CascadeTrace.ReadCsv(reader)
                         .GroupBy(t => (t.Benchmark, t.Split, t.Model))
                         .OrderBy(g => g.Key.Benchmark).ThenBy(g => g.Key.Split).ThenBy(g => g.Average(t => t.CostUsd)))
            {
                var finite = group.Where(t => double.IsFinite(t.RawConfidence)).ToList();
                table.AddRow(
                    group.Key.Benchmark,
                    group.Key.Split,
                    group.Key.Model,
                    group.Count().ToString(Format.Culture),
                    group.Average(t => t.Correct ? 1.0 : 0.0).ToString("P1", Format.Culture),
                    (finite.Count == 0 ? double.NaN : finite.Average(t => t.RawConfidence)).ToString("F3", Format.Culture),
                    (group.Average(t => t.CostUsd) * 1000).ToString("F4", Format.Culture));
            }

            AnsiConsole.Write(table);
        });
        return new Command("traces", "Inspect recorded trace files") { summary };
    }
}
