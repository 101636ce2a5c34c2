using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Classification;
using Router.Domain.Traces;
using Router.Ledger;
using Router.OnnxModels;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>
/// `router classifier train FILE --out model.onnx`: trains the pre-call P(IK) classifier and exports it to ONNX;
/// `router classifier eval MODEL.onnx FILE`: its AUROC per model on any labelled file, through ONNX Runtime.
/// </summary>
internal static class ClassifierCommand
{
    private const string Auto = "auto";
    private const string LlmRouter = "llmrouter";
    private const string CascadeTraces = "cascade-traces";

    private const string LabelledFileDescription =
        "labelled queries: a JSON file in the llmrouter layout ([{question, scores}]), or the cascade-traces layout (its folder, or traces.csv with prompts.csv beside it)";

    public static Command Create() => new("classifier", "Train and evaluate the pre-call classifier") { Train(), Evaluate() };

    private static Command Train()
    {
        var file = new Argument<string>("file") { Description = LabelledFileDescription };
        var format = FormatOption();
        var models = new Option<string[]>("--models") { Description = "train only these models of the file (comma- or space-separated), e.g. the portfolio's", AllowMultipleArgumentsPerToken = true };
        var holdout = HoldoutOption("share of queries held out to measure AUROC", 0.2);
        var seed = new Option<int>("--seed") { Description = "seed of the split, the folds and the training", DefaultValueFactory = _ => 7 };
        var buckets = new Option<int>("--buckets") { Description = "hashed text features", DefaultValueFactory = _ => QueryFeaturizer.DefaultHashedDimensions };
        buckets.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--buckets must be at least 1.");
            }
        });
        var output = new Option<FileInfo>("--out") { Description = "where to write the ONNX model", Required = true };
        var alias = new Option<string[]>("--alias") { Description = "portfolio=trained: serve a trained model's predictions under a portfolio name", AllowMultipleArgumentsPerToken = true };
        var connection = new Option<string?>("--connection") { Description = "also store it as a new version in this ledger (PostgreSQL connection string)" };
        var train = new Command("train", "Train per-model P(IK) from the query text alone (L2 and epochs chosen by cross-validation), print held-out AUROC, export ONNX")
        {
            file, format, models, holdout, seed, buckets, output, alias, connection,
        };
        train.SetAction((parse, cancellationToken) => ReportingBadInput(async () =>
        {
            var (queries, source) = Read(parse.GetRequiredValue(file), parse.GetRequiredValue(format));
            if (Names(parse.GetValue(models)) is { Count: > 0 } only)
            {
                queries = ScoredQuery.Restrict(queries, only);
            }

            var options = new ClassifierTrainingOptions { Holdout = parse.GetValue(holdout), Seed = parse.GetValue(seed), HashedDimensions = parse.GetValue(buckets) };
            var result = AnsiConsole.Status().Start($"training on {queries.Count:N0} queries (cross-validating L2 and epochs per model)", _ => ClassifierTraining.TrainAndEvaluate(queries, options));
            var aliases = Pairs(parse.GetValue(alias)).ToDictionary(p => p.Value, p => p.Key);
            var served = result.Model with { Models = [.. result.Model.Models.Select(m => aliases.GetValueOrDefault(m, m))] };
            var provenance = ClassifierProvenance.Of(result, options, source);
            var onnx = LogisticOnnx.Export(served, result.Featurizer, provenance);
            await File.WriteAllBytesAsync(parse.GetRequiredValue(output).FullName, onnx, cancellationToken);

            var table = new Table().AddColumns("model", "served as", "L2", "epochs", "CV AUROC", "held out", "right", "held-out AUROC");
            foreach (var heldOut in result.HeldOut)
            {
                var fit = result.Fits[heldOut.Model];
                table.AddRow(
                    heldOut.Model,
                    aliases.GetValueOrDefault(heldOut.Model, heldOut.Model),
                    fit.L2.ToString("G2", Format.Culture),
                    fit.Epochs.ToString(Format.Culture),
                    result.CrossValidatedAuroc[heldOut.Model].ToString("F3", Format.Culture),
                    heldOut.Queries.ToString(Format.Culture),
                    heldOut.Accuracy.ToString("P1", Format.Culture),
                    heldOut.Auroc.ToString("F3", Format.Culture));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"mean held-out AUROC {result.HeldOut.Average(a => a.Auroc).ToString("F3", Format.Culture)}; trained on {result.Trained:N0} queries, held out {result.HeldOutQueries:N0}; wrote {onnx.Length:N0} bytes to {Markup.Escape(parse.GetRequiredValue(output).FullName)}");

            if (parse.GetValue(connection) is { Length: > 0 } ledger)
            {
                await using var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider();
                await services.MigrateLedgerAsync(cancellationToken);
                var artifact = new ClassifierArtifact(Convert.ToBase64String(onnx), served.Models, result.HeldOutAuroc);
                var saved = await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Classifier, "pre-call", artifact.ToJson(), JsonSerializer.Serialize(provenance, ClassifierArtifact.Json), cancellationToken);
                AnsiConsole.MarkupLine($"stored as classifier 'pre-call' v{saved.Version}");
            }

            return 0;
        }));
        return train;
    }

    private static Command Evaluate()
    {
        var model = new Argument<FileInfo>("model") { Description = "an ONNX model from router classifier train" };
        var file = new Argument<string>("file") { Description = LabelledFileDescription };
        var format = FormatOption();
        var alias = new Option<string[]>("--alias") { Description = "classifier=file: judge the classifier's model by another name's scores in the file", AllowMultipleArgumentsPerToken = true };
        var holdout = HoldoutOption("evaluate only the share held out by router classifier train with the same --holdout and --seed (0 = every query)", 0);
        var seed = new Option<int>("--seed") { Description = "seed of that split", DefaultValueFactory = _ => 7 };
        var evaluate = new Command("eval", "AUROC per model of a trained classifier on a labelled file, predicted through ONNX Runtime as the Classifier service does")
        {
            model, file, format, alias, holdout, seed,
        };
        evaluate.SetAction((parse, cancellationToken) => ReportingBadInput(async () =>
        {
            using var classifier = new OnnxClassifier(await File.ReadAllBytesAsync(parse.GetRequiredValue(model).FullName, cancellationToken));
            var (queries, _) = Read(parse.GetRequiredValue(file), parse.GetRequiredValue(format));
            var labelsOf = Pairs(parse.GetValue(alias)).ToDictionary(p => p.Key, p => p.Value);
            var judged = classifier.Models.Select(m => labelsOf.GetValueOrDefault(m, m)).Where(m => queries.Any(q => q.Scores.ContainsKey(m))).ToList();
            if (judged.Count == 0)
            {
                AnsiConsole.MarkupLine($"[red]The file scores none of the classifier's models ({Markup.Escape(string.Join(", ", classifier.Models))}); it has {Markup.Escape(string.Join(", ", ScoredQuery.ModelsOf(queries)))}. Map names with --alias classifier=file.[/]");
                return 2;
            }

            // The same restriction training applied, so --holdout picks the same queries it held out.
            queries = ScoredQuery.Restrict(queries, judged);
            if (parse.GetValue(holdout) > 0)
            {
                var (_, test) = ClassifierTraining.Split(queries.Count, parse.GetValue(holdout), parse.GetValue(seed));
                queries = [.. test.Select(i => queries[i])];
            }

            var results = classifier.Evaluate(queries, labelsOf);
            var table = new Table().AddColumns("model", "judged on", "queries", "right", "AUROC");
            foreach (var result in results)
            {
                table.AddRow(result.Model, labelsOf.GetValueOrDefault(result.Model, result.Model), result.Queries.ToString(Format.Culture), result.Accuracy.ToString("P1", Format.Culture), result.Auroc.ToString("F3", Format.Culture));
            }

            AnsiConsole.Write(table);
            var skipped = classifier.Models.Where(m => results.All(r => r.Model != m)).ToList();
            AnsiConsole.MarkupLine($"mean AUROC {results.Average(r => r.Auroc).ToString("F3", Format.Culture)} over {queries.Count:N0} queries" + (skipped.Count > 0 ? $"; not in the file: {Markup.Escape(string.Join(", ", skipped))}" : string.Empty));
            return 0;
        }));
        return evaluate;
    }

    private static Option<string> FormatOption() => new Option<string>("--format")
    {
        Description = "layout of the file; auto: .json is llmrouter, a folder or .csv is cascade-traces",
        DefaultValueFactory = _ => Auto,
    }.AcceptOnlyFromAmong(Auto, LlmRouter, CascadeTraces);

    /// <summary>A file that is missing or not in the layout it claims to be is told in one line, not a stack trace.</summary>
    private static async Task<int> ReportingBadInput(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is IOException or FormatException or JsonException or ArgumentException or InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 2;
        }
    }

    private static Option<double> HoldoutOption(string description, double byDefault)
    {
        var holdout = new Option<double>("--holdout") { Description = description, DefaultValueFactory = _ => byDefault };
        holdout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is not (>= 0 and < 1))
            {
                result.AddError("--holdout must be in [0, 1).");
            }
        });
        return holdout;
    }

    /// <summary>The labelled queries of a file and a short name of where they came from.</summary>
    private static (IReadOnlyList<ScoredQuery> Queries, string Source) Read(string path, string format)
    {
        var layout = format != Auto ? format : !Directory.Exists(path) && path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? LlmRouter : CascadeTraces;
        if (layout == LlmRouter)
        {
            using var json = File.OpenRead(path);
            return (ScoredQuery.ReadJson(json), $"{LlmRouter}:{Path.GetFileName(path)}");
        }

        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new FileNotFoundException($"No such file or folder: {path}.", path);
        }

        var folder = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tracesPath = Directory.Exists(path) || Path.GetFileName(path) == "prompts.csv" ? Path.Combine(folder, "traces.csv") : path;
        var promptsPath = Path.Combine(folder, "prompts.csv");
        foreach (var required in (string[])[tracesPath, promptsPath])
        {
            if (!File.Exists(required))
            {
                throw new FileNotFoundException($"The cascade-traces layout needs {Path.GetFileName(required)} at {required}.", required);
            }
        }

        using var prompts = File.OpenText(promptsPath);
        using var traces = File.OpenText(tracesPath);
        return (ScoredQuery.FromCascadeTraces(CascadePrompt.ReadCsv(prompts), CascadeTrace.ReadCsv(traces)), $"{CascadeTraces}:{Path.GetFileName(tracesPath)}");
    }

    private static IReadOnlyList<string> Names(string[]? values) =>
        [.. (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    private static IEnumerable<KeyValuePair<string, string>> Pairs(string[]? values) =>
        (values ?? []).Select(a => a.Split('=', 2, StringSplitOptions.TrimEntries)).Where(p => p.Length == 2).Select(p => KeyValuePair.Create(p[0], p[1]));
}
