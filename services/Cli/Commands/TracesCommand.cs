using System.CommandLine;
using Router.Domain.Metrics;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Router.InferenceWorker.Simulation;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>
/// `router traces summary FILE`: what a trace file holds, per benchmark, split and model;
/// `router traces simulate --models a,b,c --questions N --out FILE [--falling|--flat]`: token-level traces of the simulated fleet;
/// `router traces simulate-signals --out FILE`: multi-signal traces of the simulated fleet.
/// </summary>
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
        return new Command("traces", "Inspect recorded trace files and simulate token-level and multi-signal ones") { summary, Simulate(), SimulateSignals() };
    }

    /// <summary>A traces file in either layout: JSONL signal traces (".jsonl") or a cascade-traces CSV (one signal per answer).</summary>
    public static List<SignalTrace> ReadSignalTraces(FileInfo file)
    {
        using var reader = file.OpenText();
        return file.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? [.. SignalTrace.ReadJsonl(reader)]
            : [.. CascadeTrace.ReadCsv(reader).Select(SignalTrace.FromCascade)];
    }

    private static Command SimulateSignals()
    {
        var output = new Option<FileInfo>("--out") { Description = "the JSONL file to write", Required = true };
        var queries = new Option<int>("--queries") { Description = "queries (each a question of the simulated set with a seed of its own)", DefaultValueFactory = _ => 3000 };
        var samples = new Option<int>("--samples") { Description = $"sampled answers per attempt for self-consistency (0..{TraceRecordingOptions.MaxSamples})", DefaultValueFactory = _ => 5 };
        var trainShare = new Option<double>("--train-share") { Description = "share of queries in split=train (recipes are chosen and calibrated there)", DefaultValueFactory = _ => 0.4 };
        var seed = new Option<int>("--seed") { Description = "seed of the questions, splits and answers", DefaultValueFactory = _ => 1 };
        var command = new Command("simulate-signals", "Record multi-signal traces (JSONL) of the simulated fleet: answers, P(True), P(IK), samples, with every call's tokens and cost") { output, queries, samples, trainShare, seed };
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

    private static Command Simulate()
    {
        var models = new Option<string>("--models") { Description = "simulated models, cheapest first, comma-separated", DefaultValueFactory = _ => string.Join(",", SimulatedModelProfile.Defaults.Select(p => p.Model)) };
        var questions = new Option<int>("--questions") { Description = "queries every model answers", DefaultValueFactory = _ => 1000 };
        var output = new Option<FileInfo>("--out") { Description = "the JSONL file to write (the replay layout, one answer per line)", Required = true };
        var falling = new Option<bool>("--falling") { Description = "in most wrong answers confidence falls from a random point mid-answer (the default)" };
        var flat = new Option<bool>("--flat") { Description = "confidence does not fall early: reasoning is as confident in wrong answers as in right ones" };
        var topLogprobs = new Option<int>("--top-logprobs") { Description = "alternatives per token (the Gateway asks for 5)", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "seed of the answers", DefaultValueFactory = _ => 1 };
        var simulate = new Command("simulate", "Write token-level traces of the simulated fleet: per token log-prob and top-k, correctness, tokens, cost, time per token")
        {
            models, questions, output, falling, flat, topLogprobs, seed,
        };
        Range(questions, 1, int.MaxValue);
        Range(topLogprobs, 1, 20);
        models.Validators.Add(result =>
        {
            var names = ModelNames(result.GetValueOrDefault<string>() ?? string.Empty);
            var unknown = names.Where(m => SimulatedModelProfile.Defaults.All(p => p.Model != m)).ToList();
            if (unknown.Count > 0 || names.Length == 0)
            {
                result.AddError($"--models: {(unknown.Count > 0 ? "not simulated models: " + string.Join(", ", unknown) : "none given")}; the simulated fleet is {string.Join(", ", SimulatedModelProfile.Defaults.Select(p => p.Model))}.");
            }
        });
        simulate.Validators.Add(result =>
        {
            if (result.GetValue(falling) && result.GetValue(flat))
            {
                result.AddError("--falling and --flat: give one of them.");
            }
        });
        simulate.SetAction(parse =>
        {
            var profiles = ModelNames(parse.GetRequiredValue(models)).Select(SimulatedModelProfile.For).ToList();
            var trajectory = parse.GetValue(flat) ? ConfidenceTrajectory.Flat : ConfidenceTrajectory.Falling;
            var file = parse.GetRequiredValue(output);
            file.Directory?.Create();
            var written = 0;
            using (var writer = file.CreateText())
            {
                foreach (var trace in SimulatedTraces.Generate(profiles, parse.GetValue(questions), trajectory, parse.GetValue(topLogprobs), parse.GetValue(seed)))
                {
                    TokenTraceJsonl.Write(writer, trace);
                    written++;
                }
            }

            AnsiConsole.MarkupLine($"wrote {written} simulated answers ({parse.GetValue(questions)} queries x {profiles.Count} models, {trajectory.ToString().ToLowerInvariant()} confidence) to {Markup.Escape(file.FullName)}");
        });
        return simulate;
    }

    /// <summary>Refuses a value of <paramref name="option"/> outside [min, max], naming the option.</summary>
    internal static void Range(Option<int> option, int min, int max) => option.Validators.Add(result =>
    {
        var value = result.GetValueOrDefault<int>();
        if (value < min || value > max)
        {
            result.AddError(max == int.MaxValue ? $"{option.Name}: must be at least {min}; got {value}." : $"{option.Name}: must be between {min} and {max}; got {value}.");
        }
    });

    private static string[] ModelNames(string list) => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
