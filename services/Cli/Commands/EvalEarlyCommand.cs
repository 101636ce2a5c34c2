using System.CommandLine;
using Router.Domain.Evaluation;
using Router.Domain.Policies;
using Router.Domain.Traces;
using Spectre.Console;

namespace Router.Cli.Commands;

/// <summary>`router eval early FILE`: what early escalation saves on token-level traces, per chain, over random splits.</summary>
internal static class EvalEarlyCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "token-level traces (JSONL replay layout with query_id, correct, prices and time per token; see `router traces simulate`)" }.AcceptExistingOnly();
        var splits = new Option<int>("--splits") { Description = "random calibration/evaluation splits (R)", DefaultValueFactory = _ => 200 };
        var eps = new Option<double>("--eps") { Description = "allowed accuracy loss versus the top model (fraction)", DefaultValueFactory = _ => 0.01 };
        var delta = new Option<double>("--delta") { Description = "allowed probability that the loss exceeds eps", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "seed of the random splits", DefaultValueFactory = _ => 1 };
        var chain = new Option<string?>("--chain") { Description = "one chain, cheapest first (a>b>c); default: every model of the file by cost, and each with the top model alone" };
        var window = new Option<int>("--window") { Description = "group confidence window w of the abort rules (tokens)", DefaultValueFactory = _ => 16 };
        var minTokens = new Option<int>("--min-tokens") { Description = "tokens a draft generates before an abort rule may cut it", DefaultValueFactory = _ => 32 };
        var early = new Command("early", "Fit policies with abort rules on random calibration halves; measure tokens, cost and time to answer saved against the same policies without them")
        {
            file, splits, eps, delta, seed, chain, window, minTokens,
        };
        TracesCommand.Range(splits, 1, int.MaxValue);
        TracesCommand.Range(window, 1, int.MaxValue);
        TracesCommand.Range(minTokens, 1, int.MaxValue);
        Fraction(eps);
        Fraction(delta);
        early.SetAction(parse =>
        {
            var source = parse.GetRequiredValue(file);
            List<TokenTrace> traces;
            using (var reader = source.OpenText())
            {
                traces = [.. TokenTraceJsonl.Read(reader, source.Name)];
            }

            var chains = parse.GetValue(chain) is { } given
                ? [given.Split('>', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)]
                : DefaultChains(traces);
            var rows = new List<EarlyEscalationRow>();
            AnsiConsole.Progress().Start(progress =>
            {
                var task = progress.AddTask("fitting and replaying", maxValue: chains.Count);
                foreach (var models in chains)
                {
                    var data = ChainData.FromTokenTraces(traces, models, parse.GetValue(window), parse.GetValue(minTokens));
                    if (data.Queries >= 2)
                    {
                        rows.Add(EarlyEscalationEvaluation.Evaluate(data, parse.GetValue(splits), parse.GetValue(eps), parse.GetValue(delta), parse.GetValue(seed)));
                    }

                    task.Increment(1);
                }
            });

            var table = new Table().AddColumns(
                "chain", "queries", "aborted", "escalated", "tokens / request", "USD / 1k requests", "time to answer (mean ms)",
                "escalated: mean ms", "escalated: p50 ms", "accuracy (top)", "accuracy change", "loss > eps", "fitted policy (share of splits)");
            foreach (var row in rows)
            {
                table.AddRow(
                    row.Chain,
                    row.Queries.ToString(Format.Culture),
                    row.AbortedShare.ToString("P1", Format.Culture),
                    row.EscalatedShare.ToString("P1", Format.Culture),
                    Change(row.TokensWithout, row.TokensEarly, row.TokensSaved, "F0"),
                    Change(row.CostUsdWithout * 1000, row.CostUsdEarly * 1000, row.CostSaved, "F4"),
                    Change(row.MeanMsWithout, row.MeanMsEarly, row.MeanTimeSaved, "F0"),
                    Change(row.EscalatedMeanMsWithout, row.EscalatedMeanMsEarly, row.EscalatedMeanTimeSaved, "F0"),
                    Change(row.EscalatedMedianMsWithout, row.EscalatedMedianMsEarly, row.EscalatedMedianTimeSaved, "F0"),
                    $"{row.AccuracyWithout.ToString("P1", Format.Culture)} -> {row.AccuracyEarly.ToString("P1", Format.Culture)} ({row.TopAccuracy.ToString("P1", Format.Culture)})",
                    (row.AccuracyChange * 100).ToString("+0.00;-0.00;0.00", Format.Culture) + " pt",
                    $"{row.ViolationRate.ToString("P1", Format.Culture)} (without: {row.ViolationRateWithout.ToString("P1", Format.Culture)})",
                    Markup.Escape($"{row.CommonPolicy} ({row.CommonPolicyShare.ToString("P0", Format.Culture)}); rules in {row.SplitsWithAbortRules.ToString("P0", Format.Culture)}"));
            }

            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"R = {parse.GetValue(splits)} splits, eps = {parse.GetValue(eps) * 100:0.##} pt, delta = {parse.GetValue(delta)}, window {parse.GetValue(window)}, minimum {parse.GetValue(minTokens)} tokens.");
            AnsiConsole.MarkupLine("Each cell: the fitted policy without early escalation -> with it (saved). Escalated: requests either version escalated. 'loss > eps' (accuracy versus the top model, early policy) must stay <= delta.");
        });
        return early;
    }

    private static void Fraction(Option<double> option) => option.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<double>() is var value && value is not (> 0 and < 1))
        {
            result.AddError($"{option.Name}: must be in (0, 1); got {value}.");
        }
    });

    /// <summary>Every model of the file, cheapest answer first, and each of the cheaper ones with the top model alone.</summary>
    private static List<string[]> DefaultChains(IReadOnlyList<TokenTrace> traces)
    {
        string[] models = [.. traces.GroupBy(t => t.Model, StringComparer.Ordinal).OrderBy(g => g.Average(t => t.CostUsd ?? 0)).Select(g => g.Key)];
        if (models.Length < 2)
        {
            return [models];
        }

        return [models, .. (models.Length > 2 ? models[..^1].Select(m => new[] { m, models[^1] }) : [])];
    }

    private static string Change(double without, double early, double saved, string format) =>
        $"{without.ToString(format, Format.Culture)} -> {early.ToString(format, Format.Culture)} ({saved.ToString("P1", Format.Culture)})";
}
