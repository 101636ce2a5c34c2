using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Router.Ledger;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router policy fit FILE --benchmark B --chain a>b>c --eps --delta --name N --connection CS [--signals s1,s2]`.</summary>
internal static class PolicyCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout, multi-signal traces (.jsonl, from `router traces simulate-signals`) or token-level traces (.jsonl, from `router traces simulate`: the policy gets abort rules)" };
        var benchmark = new Option<string>("--benchmark") { Description = "benchmark (task family) whose queries the policy is fitted on", Required = true };
        var chain = new Option<string>("--chain") { Description = "models cheapest first, e.g. llama3.1-8b>llama3.1-70b>llama3.1-405b", Required = true };
        var eps = new Option<double?>("--eps") { Description = "allowed accuracy loss versus the top model (fraction, e.g. 0.01)" };
        var delta = new Option<double>("--delta") { Description = "allowed probability that the guarantee fails", DefaultValueFactory = _ => 0.1 };
        var budget = new Option<double?>("--budget-usd-per-1k") { Description = "budget in USD per 1,000 queries (instead of eps)" };
        var latency = new Option<double?>("--latency-ms") { Description = "mean latency bound in ms (instead of eps)" };
        var signals = new Option<string?>("--signals") { Description = "comma-separated signals the stages' recipes may read (default: every signal the traces carry)" };
        var name = new Option<string>("--name") { Description = "policy name the Gateway routes with (model: cascade/<name>)", Required = true };
        var connection = new Option<string>("--connection") { Description = "PostgreSQL connection string of the ledger", Required = true };
        var window = new Option<int>("--window") { Description = "token-level traces: group confidence window w of the abort rules (tokens)", DefaultValueFactory = _ => 16 };
        var minTokens = new Option<int>("--min-tokens") { Description = "token-level traces: tokens a draft generates before an abort rule may cut it", DefaultValueFactory = _ => 32 };
        var fit = new Command("fit", "Choose each stage's signal recipe (or, on token-level traces, its abort rule), fit per-stage thresholds to a target and store the policy as a new version")
        {
            file, benchmark, chain, eps, delta, budget, latency, signals, name, connection, window, minTokens,
        };
        TracesCommand.Range(window, 1, int.MaxValue);
        TracesCommand.Range(minTokens, 1, int.MaxValue);
        fit.SetAction(async (parse, cancellationToken) =>
        {
            var models = parse.GetRequiredValue(chain).Split('>', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var target = new PolicyTarget(parse.GetValue(eps), parse.GetValue(delta), parse.GetValue(budget), parse.GetValue(latency));
            if (target.Epsilon is null && target.BudgetUsdPer1kQueries is null && target.LatencyMs is null)
            {
                AnsiConsole.MarkupLine("[red]Give a target: --eps, --budget-usd-per-1k or --latency-ms.[/]");
                return 2;
            }

            var stored = new StoredPolicy(parse.GetRequiredValue(file), parse.GetRequiredValue(benchmark), parse.GetRequiredValue(name), parse.GetRequiredValue(connection));
            if (IsTokenLevel(stored.File))
            {
                return await FitWithAbortRulesAsync(stored, models, target, parse.GetValue(window), parse.GetValue(minTokens), cancellationToken);
            }

            var allowed = parse.GetValue(signals)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (allowed?.FirstOrDefault(s => !SignalRecipe.RecipeSignals.Contains(s)) is { } unknown)
            {
                AnsiConsole.MarkupLine($"[red]--signals: '{Markup.Escape(unknown)}' is not a signal a recipe can read ({string.Join(", ", SignalRecipe.RecipeSignals)}).[/]");
                return 2;
            }

            RecipeFit result;
            try
            {
                // Recipes are chosen and calibrated on split=train; the thresholds are certified on
                // the other splits, which took no part in any choice.
                result = RecipeFitter.Fit(TracesCommand.ReadSignalTraces(stored.File), stored.Benchmark, models, target, allowed);
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
                return 2;
            }

            var artifact = result.ToArtifact(target);
            var saved = await SaveAsync(stored, artifact, new { selection_queries = result.SelectionQueries, queries = result.CertificationQueries }, cancellationToken);

            WriteChoices(result, target);
            var outcome = result.Fit.OnCalibration;
            AnsiConsole.Write(new Table().AddColumns("policy", "version", "method", "chain", "recipes", "thresholds", "scale", "bound", "accuracy change", "cost saved")
                .AddRow(
                    saved.Name,
                    saved.Version.ToString(Format.Culture),
                    result.Fit.Method,
                    string.Join(">", result.Fit.Chain),
                    Markup.Escape(string.Join(" > ", result.Recipes.Take(result.Recipes.Count - 1).Select(r => r.Key).DefaultIfEmpty("-"))),
                    string.Join(" / ", result.Fit.Thresholds.Select(t => t.ToString("F6", Format.Culture))),
                    artifact.ConfidenceScale,
                    result.Fit.RiskBound.ToString("F4", Format.Culture),
                    (outcome.AccuracyChange * 100).ToString("+0.00;-0.00", Format.Culture) + " pt",
                    outcome.CostSaved.ToString("P1", Format.Culture)));
            AnsiConsole.MarkupLine($"certified on {result.CertificationQueries:N0} queries; recipes chosen and calibrated on {result.SelectionQueries:N0} (split=train); costs include each recipe's extra calls.");
            WriteNote(result.Fit);
            return 0;
        });
        return new Command("policy", "Fit and store escalation policies") { fit };
    }

    /// <summary>Token-level JSONL (a line with "tokens" and no "query_idx") rather than multi-signal traces.</summary>
    private static bool IsTokenLevel(FileInfo file)
    {
        if (!file.Extension.Equals(".jsonl", StringComparison.OrdinalIgnoreCase) || !file.Exists)
        {
            return false;
        }

        using var reader = file.OpenText();
        var line = reader.ReadLine();
        while (line is not null && string.IsNullOrWhiteSpace(line))
        {
            line = reader.ReadLine();
        }

        try
        {
            using var first = JsonDocument.Parse(line ?? "{}");
            return first.RootElement.ValueKind == JsonValueKind.Object && first.RootElement.TryGetProperty("tokens", out _) && !first.RootElement.TryGetProperty("query_idx", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Acceptance thresholds and abort rules fitted together under the risk bound on token-level
    /// traces (as `router eval early` fits them on each calibration half), on every query of the file.
    /// </summary>
    private static async Task<int> FitWithAbortRulesAsync(StoredPolicy stored, IReadOnlyList<string> models, PolicyTarget target, int window, int minTokens, CancellationToken cancellationToken)
    {
        if (target.Epsilon is not { } epsilon)
        {
            AnsiConsole.MarkupLine("[red]--eps: abort rules are fitted under the risk bound; give --eps with token-level traces.[/]");
            return 2;
        }

        ThresholdFit fit;
        try
        {
            List<TokenTrace> traces;
            using (var reader = stored.File.OpenText())
            {
                traces = [.. TokenTraceJsonl.Read(reader, stored.File.Name)];
            }

            var data = ChainData.FromTokenTraces(traces, models, window, minTokens);
            if (data.Queries < 2)
            {
                AnsiConsole.MarkupLine($"[red]--chain: fewer than 2 queries of {Markup.Escape(stored.File.Name)} have an answer from every model of {Markup.Escape(string.Join(">", models))}.[/]");
                return 2;
            }

            fit = ThresholdFitter.FitRiskBounded(data, [.. Enumerable.Range(0, data.Queries)], epsilon, target.Delta);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 2;
        }

        var saved = await SaveAsync(stored, fit.ToArtifact("raw", target), new { queries = fit.OnCalibration.Queries, window, min_tokens = minTokens }, cancellationToken);
        AnsiConsole.Write(new Table().AddColumns("policy", "version", "method", "chain", "thresholds", "abort rules", "bound", "accuracy change", "cost saved")
            .AddRow(
                saved.Name,
                saved.Version.ToString(Format.Culture),
                fit.Method,
                string.Join(">", fit.Chain),
                string.Join(" / ", fit.Thresholds.Select(t => t.ToString("F6", Format.Culture))),
                fit.AbortRules is { Count: > 0 } rules
                    ? string.Join(" / ", rules.Select(r => r.IsNone ? "none" : string.Create(Format.Culture, $"below {r.Threshold:0.##} (w={r.Window}, after {r.MinTokens})")))
                    : "none",
                fit.RiskBound.ToString("F4", Format.Culture),
                (fit.OnCalibration.AccuracyChange * 100).ToString("+0.00;-0.00", Format.Culture) + " pt",
                fit.OnCalibration.CostSaved.ToString("P1", Format.Culture)));
        AnsiConsole.MarkupLine($"fitted on {fit.OnCalibration.Queries:N0} queries; acceptance thresholds on the raw confidence scale; an abort rule cuts a draft whose group confidence falls below it.");
        WriteNote(fit);
        return 0;
    }

    /// <summary>Stores <paramref name="artifact"/> as the next version of the policy, with where it was fitted from and <paramref name="details"/> as its provenance.</summary>
    private static async Task<ModelArtifact> SaveAsync(StoredPolicy stored, PolicyArtifact artifact, object details, CancellationToken cancellationToken)
    {
        await using var services = new ServiceCollection().AddLedger(stored.Connection).BuildServiceProvider();
        await services.MigrateLedgerAsync(cancellationToken);
        var provenance = JsonSerializer.SerializeToNode(details)!.AsObject();
        provenance["source"] = stored.File.FullName;
        provenance["benchmark"] = stored.Benchmark;
        provenance["fitted_by"] = "router policy fit";
        return await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Policy, stored.Name, artifact.ToJson(), provenance.ToJsonString(), cancellationToken);
    }

    private static void WriteNote(ThresholdFit fit)
    {
        if (fit.Note is not null)
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(fit.Note)}[/]");
        }
    }

    /// <summary>Where a fitted policy is stored, and what it was fitted on.</summary>
    private sealed record StoredPolicy(FileInfo File, string Benchmark, string Name, string Connection);

    /// <summary>Per deciding stage, every candidate recipe as it did on the selection split, the chosen one first.</summary>
    private static void WriteChoices(RecipeFit result, PolicyTarget target)
    {
        if (result.Choices.All(c => c.Candidates.Count == 0))
        {
            return;
        }

        var table = new Table().AddColumns("stage", "recipe", "extra calls", "extra USD / 1k", "cost saved (stage>top)", "accuracy change", "in-sample ceiling", "chosen");
        foreach (var choice in result.Choices)
        {
            foreach (var candidate in choice.Candidates)
            {
                table.AddRow(
                    choice.Model,
                    Markup.Escape(candidate.Recipe.Key),
                    string.Join(", ", candidate.Recipe.ExtraCalls.DefaultIfEmpty("-")),
                    candidate.ExtraUsdPer1kQueries.ToString("F4", Format.Culture),
                    candidate.CostSaved.ToString("P1", Format.Culture),
                    (candidate.AccuracyChange * 100).ToString("+0.00;-0.00", Format.Culture) + " pt",
                    double.IsNaN(candidate.Ceiling) ? string.Empty : candidate.Ceiling.ToString("P1", Format.Culture),
                    ReferenceEquals(candidate, choice.Candidates[0]) ? "yes" : string.Empty);
            }
        }

        AnsiConsole.Write(table);
    }
}
