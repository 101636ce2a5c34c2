extern alias worker;

using System.CommandLine;
using Router.Domain.Metrics;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Spectre.Console;
using worker::Router.InferenceWorker.Simulation;

namespace Router.Cli.Commands;

/// <summary>`router traces summary FILE`: what a trace file holds; `router traces simulate --out FILE`: multi-signal traces of the simulated fleet.</summary>
internal static class TracesCommand
{
    /// <summary>The signals `traces simulate` reports the AUROC of, one column each.</summary>
    private static readonly string[] ReportedSignals = [SignalNames.MeanLogprob, SignalNames.AnswerOptionProbability, SignalNames.PTrue, SignalNames.PIk, SignalNames.Agreement];

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
        return new Command("traces", "Inspect and record trace files") { summary, Simulate() };
    }

    /// <summary>A traces file in either layout: JSONL signal traces (".jsonl") or a cascade-traces CSV (one signal per answer).</summary>
    public static List<SignalTrace> ReadSignalTraces(FileInfo file)
    {
        using var reader = file.OpenText();
        return file.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? [.. SignalTrace.ReadJsonl(reader)]
            : [.. CascadeTrace.ReadCsv(reader).Select(SignalTrace.FromCascade)];
    }

    private static Command Simulate()
    {
        var output = new Option<FileInfo>("--out") { Description = "the JSONL file to write", Required = true };
        var queries = new Option<int>("--queries") { Description = "queries (each a question of the simulated set with a seed of its own)", DefaultValueFactory = _ => 3000 };
        var samples = new Option<int>("--samples") { Description = $"sampled answers per attempt for self-consistency (0..{TraceRecordingOptions.MaxSamples})", DefaultValueFactory = _ => 5 };
        var trainShare = new Option<double>("--train-share") { Description = "share of queries in split=train (recipes are chosen and calibrated there)", DefaultValueFactory = _ => 0.4 };
        var seed = new Option<int>("--seed") { Description = "seed of the questions, splits and answers", DefaultValueFactory = _ => 1 };
        var command = new Command("simulate", "Record multi-signal traces (JSONL) of the simulated fleet: answers, P(True), P(IK), samples, with every call's tokens and cost") { output, queries, samples, trainShare, seed };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var problems = new List<string>();
            if (parse.GetValue(queries) < 1)
            {
                problems.Add("--queries must be at least 1.");
            }

            if (parse.GetValue(samples) is < 0 or > TraceRecordingOptions.MaxSamples)
            {
                problems.Add($"--samples must be between 0 and {TraceRecordingOptions.MaxSamples}.");
            }

            if (parse.GetValue(trainShare) is <= 0 or >= 1 || double.IsNaN(parse.GetValue(trainShare)))
            {
                problems.Add("--train-share must be between 0 and 1 (exclusive).");
            }

            if (parse.GetValue(seed) < 0)
            {
                problems.Add("--seed must be >= 0.");
            }

            if (problems.Count > 0)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(string.Join(" ", problems))}[/]");
                return 2;
            }

            var traces = new List<SignalTrace>();
            var path = parse.GetRequiredValue(output);
            await using (var writer = new StreamWriter(path.FullName))
            {
                await foreach (var trace in SimulatedFleet.RecordAsync(parse.GetValue(queries), parse.GetValue(seed), parse.GetValue(trainShare), new TraceRecordingOptions { Samples = parse.GetValue(samples) }, cancellationToken))
                {
                    await writer.WriteLineAsync(trace.ToJsonLine().AsMemory(), cancellationToken);
                    traces.Add(trace);
                }
            }

            var table = new Table().AddColumns(["benchmark", "model", "answers", "accuracy", "USD / 1k answers", "USD / 1k P(True)", "USD / 1k samples", .. ReportedSignals.Select(s => $"AUROC {s}")]);
            foreach (var group in traces.GroupBy(t => (t.Benchmark, t.Model)).OrderBy(g => g.Key.Benchmark, StringComparer.Ordinal))
            {
                var labels = group.Select(t => t.Correct).ToArray();
                table.AddRow([
                    group.Key.Benchmark,
                    group.Key.Model,
                    group.Count().ToString(Format.Culture),
                    labels.Average(c => c ? 1.0 : 0.0).ToString("P1", Format.Culture),
                    (group.Average(t => t.CostUsd) * 1000).ToString("F4", Format.Culture),
                    (group.Average(t => t.ExtraCalls.GetValueOrDefault(ExtraCallKinds.SelfVerification)?.CostUsd ?? 0) * 1000).ToString("F4", Format.Culture),
                    (group.Average(t => t.ExtraCalls.GetValueOrDefault(ExtraCallKinds.Sample)?.CostUsd ?? 0) * 1000).ToString("F4", Format.Culture),
                    .. ReportedSignals.Select(s => group.Any(t => t.Signals.ContainsKey(s))
                        ? CalibrationMetrics.Auroc([.. group.Select(t => RecipeScore.OfSignal(s, t.Signals.GetValueOrDefault(s, double.NaN)) is var v && double.IsNaN(v) ? 0 : v)], labels).ToString("F3", Format.Culture)
                        : "-"),
                ]);
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"wrote {traces.Count:N0} traces ({parse.GetValue(queries):N0} queries x {SimulatedModelProfile.Defaults.Count} models, simulated) to {Markup.Escape(path.FullName)}");
            return 0;
        });
        return command;
    }
}
