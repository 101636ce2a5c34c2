using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Evaluation;
using Router.Domain.Policies;
using Router.Domain.Traces;
using Router.Ledger;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router policy fit FILE --benchmark B --chain a>b>c --eps --delta --name N --connection CS`.</summary>
internal static class PolicyCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "a traces.csv in the cascade-traces layout" };
        var benchmark = new Option<string>("--benchmark") { Description = "benchmark (task family) whose queries the policy is fitted on", Required = true };
        var chain = new Option<string>("--chain") { Description = "models cheapest first, e.g. llama3.1-8b>llama3.1-70b>llama3.1-405b", Required = true };
        var eps = new Option<double?>("--eps") { Description = "allowed accuracy loss versus the top model (fraction, e.g. 0.01)" };
        var delta = new Option<double>("--delta") { Description = "allowed probability that the guarantee fails", DefaultValueFactory = _ => 0.1 };
        var budget = new Option<double?>("--budget-usd-per-1k") { Description = "budget in USD per 1,000 queries (instead of eps)" };
        var latency = new Option<double?>("--latency-ms") { Description = "mean latency bound in ms (instead of eps)" };
        var name = new Option<string>("--name") { Description = "policy name the Gateway routes with (model: cascade/<name>)", Required = true };
        var connection = new Option<string>("--connection") { Description = "PostgreSQL connection string of the ledger", Required = true };
        var fit = new Command("fit", "Fit per-stage thresholds to a target and store the policy as a new version") { file, benchmark, chain, eps, delta, budget, latency, name, connection };
        fit.SetAction(async (parse, cancellationToken) =>
        {
            var models = parse.GetRequiredValue(chain).Split('>', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var target = new PolicyTarget(parse.GetValue(eps), parse.GetValue(delta), parse.GetValue(budget), parse.GetValue(latency));
            if (target.Epsilon is null && target.BudgetUsdPer1kQueries is null && target.LatencyMs is null)
            {
                AnsiConsole.MarkupLine("[red]Give a target: --eps, --budget-usd-per-1k or --latency-ms.[/]");
                return 2;
            }

            using var reader = parse.GetRequiredValue(file).OpenText();
            var traces = CascadeTrace.ReadCsv(reader).Where(t => t.Benchmark == parse.GetRequiredValue(benchmark)).ToList();

            // Calibrate on the train split and fit thresholds on the rest, so the thresholds are on
            // the Scoring service's calibrated scale and the two fits do not share data.
            var calibrators = CalibrationFitting.FromTraces(traces).ToDictionary(c => c.Name.Split('/')[0], c => c.Artifact.Calibrator);
            var held = traces.Where(t => t.Split != "train").ToList();
            var calibrated = held.Count > 0 && models.All(calibrators.ContainsKey);
            var data = ChainData.FromTraces(
                calibrated ? held : traces,
                parse.GetRequiredValue(benchmark),
                models,
                calibrated ? t => calibrators[t.Model].Calibrate(t.RawProbability) : null);
            if (data.Queries == 0)
            {
                AnsiConsole.MarkupLine($"[red]No query of {parse.GetRequiredValue(benchmark)} has answers from every model of {string.Join(">", models)}.[/]");
                return 2;
            }

            var rows = Enumerable.Range(0, data.Queries).ToArray();
            var result = target.Epsilon is { } epsilon
                ? ThresholdFitter.FitRiskBounded(data, rows, epsilon, target.Delta)
                : ThresholdFitter.FitBudget(data, rows, target);
            var artifact = new PolicyArtifact(result.Chain, result.Thresholds, calibrated ? "calibrated" : "raw", target, result.Method, result.RiskBound, result.OnCalibration.AccuracyChange, result.OnCalibration.CostSaved);

            await using var services = new ServiceCollection().AddLedger(parse.GetRequiredValue(connection)).BuildServiceProvider();
            await services.MigrateLedgerAsync(cancellationToken);
            var provenance = JsonSerializer.Serialize(new { source = parse.GetRequiredValue(file).FullName, benchmark = parse.GetRequiredValue(benchmark), queries = data.Queries, fitted_by = "router policy fit" });
            var saved = await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Policy, parse.GetRequiredValue(name), artifact.ToJson(), provenance, cancellationToken);

            AnsiConsole.Write(new Table().AddColumns("policy", "version", "method", "chain", "thresholds", "scale", "bound", "accuracy change", "cost saved")
                .AddRow(
                    saved.Name,
                    saved.Version.ToString(Format.Culture),
                    result.Method,
                    string.Join(">", result.Chain),
                    string.Join(" / ", result.Thresholds.Select(t => t.ToString("F6", Format.Culture))),
                    artifact.ConfidenceScale,
                    result.RiskBound.ToString("F4", Format.Culture),
                    (result.OnCalibration.AccuracyChange * 100).ToString("+0.00;-0.00", Format.Culture) + " pt",
                    result.OnCalibration.CostSaved.ToString("P1", Format.Culture)));
            if (result.Note is not null)
            {
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(result.Note)}[/]");
            }

            return 0;
        });
        return new Command("policy", "Fit and store escalation policies") { fit };
    }
}
