using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Classification;
using Router.Ledger;
using Router.OnnxModels;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router classifier train FILE --out model.onnx`: trains the pre-call P(IK) classifier and exports it to ONNX.</summary>
internal static class ClassifierCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "queries with per-model scores (the layout of llmrouter/train.json)" };
        var holdout = new Option<double>("--holdout") { Description = "share of queries held out to measure AUROC", DefaultValueFactory = _ => 0.2 };
        var seed = new Option<int>("--seed") { Description = "seed of the split and the training", DefaultValueFactory = _ => 7 };
        var output = new Option<FileInfo>("--out") { Description = "where to write the ONNX model", Required = true };
        var alias = new Option<string[]>("--alias") { Description = "portfolio=trained: serve a trained model's predictions under a portfolio name", AllowMultipleArgumentsPerToken = true };
        var connection = new Option<string?>("--connection") { Description = "also store it as a new version in this ledger (PostgreSQL connection string)" };
        var train = new Command("train", "Train per-model P(IK) from the query text alone, print held-out AUROC, export ONNX") { file, holdout, seed, output, alias, connection };
        train.SetAction(async (parse, cancellationToken) =>
        {
            IReadOnlyList<ScoredQuery> queries;
            await using (var stream = parse.GetRequiredValue(file).OpenRead())
            {
                queries = ScoredQuery.ReadJson(stream);
            }

            var result = AnsiConsole.Status().Start("training", _ => ClassifierTraining.TrainAndEvaluate(queries, parse.GetValue(holdout), parse.GetValue(seed)));
            var aliases = (parse.GetValue(alias) ?? []).Select(a => a.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[1], p => p[0]);
            var served = result.Model with { Models = [.. result.Model.Models.Select(m => aliases.GetValueOrDefault(m, m))] };
            var onnx = LogisticOnnx.Export(served, result.Featurizer.HashedDimensions);
            await File.WriteAllBytesAsync(parse.GetRequiredValue(output).FullName, onnx, cancellationToken);

            var table = new Table().AddColumns("model", "served as", "held-out AUROC");
            foreach (var (model, auroc) in result.HeldOutAuroc.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                table.AddRow(model, aliases.GetValueOrDefault(model, model), auroc.ToString("F3", Format.Culture));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"trained on {result.Trained} queries, held out {result.HeldOut}; wrote {onnx.Length:N0} bytes to {Markup.Escape(parse.GetRequiredValue(output).FullName)}");

            if (parse.GetValue(connection) is { Length: > 0 } ledger)
            {
                await using var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider();
                await services.MigrateLedgerAsync(cancellationToken);
                var artifact = new ClassifierArtifact(Convert.ToBase64String(onnx), served.Models, result.HeldOutAuroc);
                var provenance = JsonSerializer.Serialize(new { source = parse.GetRequiredValue(file).FullName, holdout = parse.GetValue(holdout), seed = parse.GetValue(seed), trained = result.Trained });
                var saved = await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Classifier, "pre-call", artifact.ToJson(), provenance, cancellationToken);
                AnsiConsole.MarkupLine($"stored as classifier 'pre-call' v{saved.Version}");
            }
        });
        return new Command("classifier", "Train the pre-call classifier") { train };
    }
}
