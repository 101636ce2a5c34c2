using Router.Domain.Calibration;
using Router.Domain.Evaluation;
using Router.Domain.Signals;
using Router.Domain.Traces;

namespace Router.Domain.Policies;

/// <summary>How one candidate recipe of a stage did on the selection split: the stage, then the top model.</summary>
public sealed record RecipeCandidateResult(SignalRecipe Recipe, double CostSaved, double AccuracyChange, double Ceiling, double ExtraUsdPer1kQueries);

/// <summary>The recipe chosen for a stage's model and every candidate it was chosen from, best first.</summary>
public sealed record StageRecipeChoice(string Model, CalibratedRecipe Chosen, IReadOnlyList<RecipeCandidateResult> Candidates);

/// <summary>
/// A fitted policy with its recipes: <see cref="Recipes"/> is aligned with <see cref="Fit"/>'s chain
/// (the top model's only scores its answer: the default). <see cref="ConfidenceScale"/> is
/// "calibrated" when recipes were calibrated (and chosen) on the selection split and the thresholds
/// certified on the rest, "raw" when the traces had no separate split.
/// </summary>
public sealed record RecipeFit(
    ThresholdFit Fit,
    IReadOnlyList<SignalRecipe> Recipes,
    IReadOnlyList<StageRecipeChoice> Choices,
    string ConfidenceScale,
    int SelectionQueries,
    int CertificationQueries)
{
    public PolicyArtifact ToArtifact(PolicyTarget target) =>
        Fit.ToArtifact(ConfidenceScale, target) with { Recipes = Recipes };

    /// <summary>The original chain's data for <paramref name="traces"/> (e.g. fresh queries) with the chosen recipes, priced as the fit priced them: replay the fit on it.</summary>
    public ChainData DataFor(IEnumerable<SignalTrace> traces, string benchmark)
    {
        var chain = Choices.Select(c => c.Model).Append(TopModel).ToList();
        return RecipeFitter.Build(RecipeFitter.Join(traces, benchmark, chain), [.. Enumerable.Range(0, chain.Count)], chain, [.. Choices.Select(c => c.Chosen)]);
    }

    private string TopModel => Fit.Chain[^1];
}

/// <summary>
/// Picks each stage's signal recipe among the signals the traces carry, then fits the thresholds
/// with <see cref="ThresholdFitter"/>, pricing every recipe's extra calls into the stage's cost.
/// <para>
/// Delta is spent once. The candidate recipes of a stage are declared from the names of the signals
/// its traces carry before any label is read (<see cref="Candidates"/>). The queries of the
/// selection split ("train") calibrate each candidate (or fit a fused one's weights) and choose per
/// stage the candidate whose two-stage cascade "this model, then the top" saves most under the risk
/// bound there (ties: the higher in-sample ceiling, then the earlier candidate). The thresholds are
/// then certified on the other queries alone, which played no part in any choice, so the risk-bounded
/// fit keeps its full delta and its guarantee. Traces without a separate split get each stage's
/// default signal, uncalibrated, and no selection.
/// </para>
/// A stage's cost is its answer plus the extra calls its recipe makes (as recorded in the traces);
/// a recipe known before the answer (P(IK)) costs only its question when it escalates. The top
/// model decides nothing and makes no extra call.
/// </summary>
public static class RecipeFitter
{
    public const string SelectionSplit = "train";

    /// <summary>The answer's own signals a fused recipe combines (those the traces carry).</summary>
    public static IReadOnlyList<string> TokenFusionInputs { get; } =
        [SignalNames.MeanLogprob, SignalNames.BottomGroupConfidence, SignalNames.TailConfidence, SignalNames.MinMaxProbability, SignalNames.AnswerOptionProbability];

    /// <summary>
    /// The candidates for a model whose traces carry <paramref name="carried"/> signals (and
    /// <paramref name="samples"/> sampled answers, 0 if none): each signal alone (the mean log-prob
    /// standing for its exp, the geometric-mean probability), then fused: the answer's own signals,
    /// those and P(True), and every carried signal. Fused candidates have no weights yet.
    /// </summary>
    public static IReadOnlyList<SignalRecipe> Candidates(IReadOnlyCollection<string> carried, int samples)
    {
        var usable = SignalRecipe.RecipeSignals
            .Where(carried.Contains)
            .Where(s => s != SignalNames.GeometricMeanProbability || !carried.Contains(SignalNames.MeanLogprob))
            .Where(s => samples > 0 || s is not (SignalNames.Agreement or SignalNames.AnswerEntropy))
            .ToList();
        var candidates = usable.Select(s => SignalRecipe.Single(s, s is SignalNames.Agreement or SignalNames.AnswerEntropy ? samples : 0)).ToList();
        var tokens = TokenFusionInputs.Where(usable.Contains).ToList();
        List<List<string>> fusions = [tokens, usable.Contains(SignalNames.PTrue) ? [.. tokens, SignalNames.PTrue] : [], usable];
        foreach (var inputs in fusions.Where(f => f.Count >= 2).DistinctBy(f => string.Join(',', f)))
        {
            var recipe = SignalRecipe.Fuse(inputs, []);
            candidates.Add(recipe.NeedsSamples ? recipe with { Samples = samples } : recipe);
        }

        return candidates;
    }

    public static RecipeFit Fit(IReadOnlyList<SignalTrace> traces, string benchmark, IReadOnlyList<string> chain, PolicyTarget target, IReadOnlyCollection<string>? allowedSignals = null)
    {
        var queries = Join(traces, benchmark, chain);
        if (queries.Count == 0)
        {
            throw new ArgumentException($"No query of {benchmark} has answers from every model of {string.Join(">", chain)}.", nameof(traces));
        }

        var selection = queries.Where(q => q[0].Split == SelectionSplit).ToList();
        var certification = queries.Where(q => q[0].Split != SelectionSplit).ToList();
        var separate = selection.Count > 0 && certification.Count > 0;
        var top = chain.Count - 1;
        var choices = new List<StageRecipeChoice>();
        for (var s = 0; s < top; s++)
        {
            var own = traces.Where(t => t.Benchmark == benchmark && t.Model == chain[s]).ToList();
            var carried = own.SelectMany(t => t.Signals.Keys).Where(k => allowedSignals?.Contains(k) ?? true).ToHashSet(StringComparer.Ordinal);
            var candidates = Candidates(carried, RecordedSamples(own));
            if (candidates.Count == 0)
            {
                throw new ArgumentException($"The traces of {chain[s]} on {benchmark} carry no signal a recipe can read{(allowedSignals is null ? string.Empty : " among " + string.Join(", ", allowedSignals))}.", nameof(traces));
            }

            choices.Add(separate
                ? Choose(chain, s, candidates, own.Where(t => t.Split == SelectionSplit).ToList(), selection, target)
                : new StageRecipeChoice(chain[s], CalibratedRecipe.Raw(candidates.FirstOrDefault(c => c.Key == SignalRecipe.Default.Key) ?? candidates[0]), []));
        }

        var rows = separate ? certification : queries;
        var data = Build(rows, [.. Enumerable.Range(0, chain.Count)], chain, [.. choices.Select(c => c.Chosen)]);
        var fit = FitThresholds(data, target);
        var recipes = fit.Chain.Select(model => choices.FirstOrDefault(c => c.Model == model)?.Chosen.Recipe ?? SignalRecipe.Default).ToList();
        return new RecipeFit(fit, recipes, choices, separate ? "calibrated" : "raw", separate ? selection.Count : 0, rows.Count);
    }

    /// <summary>The queries of the benchmark answered by every model of the chain, as traces in chain order, by split and query.</summary>
    public static List<SignalTrace[]> Join(IEnumerable<SignalTrace> traces, string benchmark, IReadOnlyList<string> chain) =>
        [.. traces
            .Where(t => t.Benchmark == benchmark && chain.Contains(t.Model))
            .GroupBy(t => (t.Split, t.QueryIndex))
            .Select(g => g.GroupBy(t => t.Model).ToDictionary(m => m.Key, m => m.First()))
            .Where(models => chain.All(models.ContainsKey))
            .Select(models => chain.Select(m => models[m]).ToArray())
            .OrderBy(q => q[0].Split, StringComparer.Ordinal)
            .ThenBy(q => q[0].QueryIndex)];

    /// <summary>
    /// Chain data over <paramref name="stages"/> of the joined queries (the last is the top model):
    /// each deciding stage's confidence is its recipe's calibrated score, its cost the answer plus the
    /// recipe's extra calls, and its escalation cost only the extra calls when the recipe is read
    /// before the answer.
    /// </summary>
    internal static ChainData Build(IReadOnlyList<SignalTrace[]> queries, IReadOnlyList<int> stages, IReadOnlyList<string> chain, IReadOnlyList<CalibratedRecipe> recipes)
    {
        var n = queries.Count;
        var m = stages.Count;
        var data = new ChainData([.. stages.Select(s => chain[s])], new double[n, m], new bool[n, m], new double[n, m], new double[n, m], new double[n, m], new double[n, m]);
        for (var i = 0; i < n; i++)
        {
            for (var p = 0; p < m; p++)
            {
                var trace = queries[i][stages[p]];
                data.Correct[i, p] = trace.Correct;
                data.CostUsd[i, p] = data.EscalationCostUsd[i, p] = trace.CostUsd;
                data.LatencyMs[i, p] = data.EscalationLatencyMs[i, p] = trace.LatencyMs;
                if (p == m - 1)
                {
                    continue;
                }

                var recipe = recipes[stages[p]];
                var (extraCost, extraLatency) = trace.ExtraFor(recipe.Recipe);
                data.Confidence[i, p] = Math.Min(recipe.Confidence(trace.Signals), ChainData.MaxConfidence);
                data.CostUsd[i, p] += extraCost;
                data.LatencyMs[i, p] += extraLatency;
                (data.EscalationCostUsd[i, p], data.EscalationLatencyMs[i, p]) = recipe.Recipe.BeforeAnswer
                    ? (extraCost, extraLatency)
                    : (data.CostUsd[i, p], data.LatencyMs[i, p]);
            }
        }

        return data;
    }

    private static StageRecipeChoice Choose(IReadOnlyList<string> chain, int stage, IReadOnlyList<SignalRecipe> candidates, List<SignalTrace> train, List<SignalTrace[]> selection, PolicyTarget target)
    {
        var top = chain.Count - 1;
        var signals = train.Select(t => t.Signals).ToList();
        var labels = train.Select(t => t.Correct).ToList();
        var results = new List<(CalibratedRecipe Recipe, RecipeCandidateResult Result)>();
        foreach (var candidate in candidates)
        {
            var calibrated = CalibratedRecipe.Fit(candidate, signals, labels);
            var recipes = new CalibratedRecipe[chain.Count];
            recipes[stage] = calibrated;
            var data = Build(selection, [stage, top], chain, recipes);
            var rows = Enumerable.Range(0, data.Queries).ToArray();
            var outcome = FitThresholds(data, target).OnCalibration;
            var extra = selection.Average(q => q[stage].ExtraFor(calibrated.Recipe).CostUsd) * 1000;
            var ceiling = target.Epsilon is { } epsilon ? RouteEvaluation.InSampleCeiling(data, rows, epsilon) : double.NaN;
            results.Add((calibrated, new RecipeCandidateResult(calibrated.Recipe, outcome.CostSaved, outcome.AccuracyChange, ceiling, extra)));
        }

        // Under a risk target the saving is what counts (its accuracy is bounded by eps); under a
        // budget the fit keeps the cost within it, so the most accurate candidate wins.
        var ranked = target.Epsilon is null
            ? results.OrderByDescending(r => r.Result.AccuracyChange).ThenByDescending(r => r.Result.CostSaved).ToList()
            : results.OrderByDescending(r => r.Result.CostSaved).ThenByDescending(r => r.Result.Ceiling).ToList();
        return new StageRecipeChoice(chain[stage], ranked[0].Recipe, [.. ranked.Select(r => r.Result)]);
    }

    private static ThresholdFit FitThresholds(ChainData data, PolicyTarget target)
    {
        var rows = Enumerable.Range(0, data.Queries).ToArray();
        return target.Epsilon is { } epsilon
            ? ThresholdFitter.FitRiskBounded(data, rows, epsilon, target.Delta)
            : ThresholdFitter.FitBudget(data, rows, target);
    }

    /// <summary>The number of sampled answers most of the model's traces recorded (0 if none).</summary>
    public static int RecordedSamples(IEnumerable<SignalTrace> traces) =>
        traces.Select(t => t.ExtraCalls.GetValueOrDefault(ExtraCallKinds.Sample)?.Calls ?? 0)
            .Where(c => c > 0)
            .GroupBy(c => c)
            .OrderByDescending(g => g.Count())
            .Select(g => g.Key)
            .FirstOrDefault();
}
