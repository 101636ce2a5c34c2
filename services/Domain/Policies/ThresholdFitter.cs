namespace Router.Domain.Policies;

/// <summary>What a policy is fitted to: at most <see cref="Epsilon"/> accuracy loss versus the top model with probability 1 - <see cref="Delta"/>, and/or a budget, and/or a latency bound.</summary>
public sealed record PolicyTarget(double? Epsilon, double Delta, double? BudgetUsdPer1kQueries = null, double? LatencyMs = null);

/// <summary>
/// Fitted thresholds over <see cref="Chain"/> (the models of the original chain the policy keeps,
/// cheapest first; the top model alone when nothing certified a saving), the bound that justified
/// them, and how they did on the data they were fitted on.
/// </summary>
public sealed record ThresholdFit(IReadOnlyList<string> Chain, IReadOnlyList<double> Thresholds, string Method, double RiskBound, CascadeOutcome OnCalibration, string? Note = null)
{
    /// <summary>Early escalation per stage of <see cref="Chain"/> but the last; null: none (data without tokens, or no rule paid).</summary>
    public IReadOnlyList<AbortRule>? AbortRules { get; init; }

    /// <summary>Replays the fitted policy, abort rules included, on other queries of the same original chain.</summary>
    public CascadeOutcome Replay(ChainData data, IReadOnlyList<int> rows) => Replay(data, rows, AbortRules);

    /// <summary>The same policy with other abort rules (null: without early escalation).</summary>
    public CascadeOutcome Replay(ChainData data, IReadOnlyList<int> rows, IReadOnlyList<AbortRule>? abortRules) =>
        CascadeReplay.Run(data, Stages(data), Thresholds, rows, abortRules);

    /// <summary>The fit as a stored policy, its abort rules included, with its thresholds on <paramref name="confidenceScale"/>.</summary>
    public PolicyArtifact ToArtifact(string confidenceScale, PolicyTarget target) =>
        new(Chain, Thresholds, confidenceScale, target, Method, RiskBound, OnCalibration.AccuracyChange, OnCalibration.CostSaved) { AbortRules = AbortRules };

    /// <summary>The positions of <see cref="Chain"/>'s models in <paramref name="data"/>'s chain.</summary>
    public IReadOnlyList<int> Stages(ChainData data) => [.. Chain.Select(m => data.Chain.ToList().IndexOf(m))];
}

/// <summary>
/// One candidate of the risk-bounded fit: a sub-chain of the original chain that ends at the top
/// model, with an abort threshold of <see cref="ThresholdFitter.AbortGrid"/> at every stage but the
/// last or none (null), tested along the data-independent threshold path of
/// <see cref="ThresholdFitter.LogGrid"/> at <see cref="DeltaShare"/> of delta.
/// </summary>
public sealed record CandidatePath(IReadOnlyList<int> Stages, double DeltaShare, double? AbortThreshold = null);

/// <summary>
/// Risk-bounded threshold fitting.
/// <para>
/// Loss versus the top model is E[1(top right, cascade wrong)] - E[1(top wrong, cascade right)]:
/// escalations that help are credited. Its upper confidence bound at level alpha is the
/// Clopper-Pearson upper bound of the first rate at 0.9 alpha minus the lower bound of the second at
/// 0.1 alpha (a union bound; losses are what the bound must be tight on, gains are a credit).
/// </para>
/// <para>
/// Candidates are every sub-chain that ends at the top model. Each is tested along a fixed,
/// data-independent path from "accept almost nothing early" to "accept everything early", in
/// fixed-sequence (learn-then-test) order: the path stops at the first setting whose bound exceeds
/// eps, so every setting before it holds with probability 1 - alpha with no multiplicity penalty
/// along the path. The candidates share delta by a weighted Bonferroni split fixed before the data
/// are seen (<see cref="Plan"/>), so the union of everything certified holds with probability
/// 1 - delta and the cheapest certified setting on the calibration queries can be picked freely.
/// "Top model only" is always a candidate (its loss is 0 by definition), so a fit never costs more
/// than the top model on the calibration queries and routes straight to it when nothing certifies a
/// saving.
/// </para>
/// <para>
/// Why these shares: a two-stage sub-chain "model s, then the top" has a one-dimensional path, and
/// the cheapest certified saving usually comes from the model just below the top, which agrees with
/// it most; models further down save more per accepted answer but rarely certify much. So the
/// two-stage sub-chains get 90% of delta, in proportion to 2^s (s = the model's position in the
/// chain: the model just below the top gets the largest share), and the sub-chains of three or
/// more models share the remaining 10% along equal-threshold paths. Splitting delta evenly across
/// many threshold shapes (the previous fitter) left every path too little of it, and choosing the
/// sub-chain on a held-out part of the calibration data costs more in queries than it saves.
/// </para>
/// <para>
/// Early escalation (abort rules) on token-level data: an abort rule changes which stage answers
/// (a cut draft escalates whatever its final confidence) and what the query costs, so it is part
/// of the policy the bound must hold for. Each sub-chain's share of delta is split once more, before
/// the data are seen: <see cref="AbortShareOfDelta"/> of it goes, in equal parts, to the same
/// sub-chain with each abort threshold of <see cref="AbortGrid"/> at every stage but the last (the
/// window and minimum tokens are fixed by the caller), and the rest to the sub-chain without
/// aborts. Each of these candidates is tested along the acceptance path with its abort rule in
/// force, so every certified setting's bound is on the net loss of the whole policy (acceptance
/// and aborts together) and the union over candidates still holds with probability 1 - delta.
/// Testing abort thresholds along the acceptance path's order instead would need a path that
/// orders pairs, and any fixed order stops at the first aggressive abort that fails. Aborted
/// drafts are paid up to the cut, so a rule that cuts answers which would have been accepted costs
/// more, and the cheapest certified setting keeps a rule only where it pays.
/// </para>
/// A tied block of confidences (e.g. many answers at log-prob 0) is accepted or not as a whole,
/// because a threshold either includes the value or not.
/// </summary>
public static class ThresholdFitter
{
    /// <summary>Share of a path's level spent on the loss rate; the rest buys the credit for gains.</summary>
    public const double LostShareOfLevel = 0.9;

    /// <summary>Share of delta the sub-chains of three or more models split between them.</summary>
    public const double MultiStageShareOfDelta = 0.1;

    /// <summary>Share of each sub-chain's delta spent on its candidates with abort rules, when the data carry tokens.</summary>
    public const double AbortShareOfDelta = 0.7;

    /// <summary>Log-prob thresholds, most conservative first: 0 means never accept (confidences stay below 1).</summary>
    public static IReadOnlyList<double> LogGrid { get; } = BuildGrid();

    /// <summary>
    /// The abort thresholds on group confidence (mean DeepConf C_i) a fit may choose from. Fixed
    /// before any data are seen, as the bound requires. With 5 alternatives per token, C_i is about
    /// 4 for a token of probability 0.95 and about 2.5 at 0.7, so the grid spans "the model is
    /// guessing" to "a little less sure than usual".
    /// </summary>
    public static IReadOnlyList<double> AbortGrid { get; } = [2, 2.5, 3, 3.5];

    /// <summary>
    /// Least share of the drafts of a chain an abort threshold must cut on the fitting rows to be
    /// tested: a rule that cuts (almost) nothing cannot save anything, and testing it would only
    /// take delta from the plain candidates, making the policy dearer than without early escalation.
    /// </summary>
    public const double MinAbortedShare = 0.02;

    /// <summary>
    /// The candidates of a chain of <paramref name="stages"/> models and their shares of delta,
    /// which sum to 1; <paramref name="abortThresholds"/> (from <see cref="AbortGrid"/>) adds each
    /// sub-chain with each of them.
    /// </summary>
    public static IReadOnlyList<CandidatePath> Plan(int stages, IReadOnlyList<double>? abortThresholds = null)
    {
        var subChains = SubChainPlan(stages);
        return abortThresholds is { Count: > 0 } thresholds
            ?
            [
                .. subChains.Select(c => c with { DeltaShare = c.DeltaShare * (1 - AbortShareOfDelta) }),
                .. subChains.SelectMany(c => thresholds.Select(a => c with { DeltaShare = c.DeltaShare * AbortShareOfDelta / thresholds.Count, AbortThreshold = a })),
            ]
            : subChains;
    }

    /// <summary>
    /// The thresholds of <see cref="AbortGrid"/> that cut at least <see cref="MinAbortedShare"/> of
    /// the drafts (every stage but the top) on <paramref name="rows"/>. The screen reads only the
    /// drafts' log-probs, never whether an answer was right, so the losses the bound is computed
    /// on take no part in choosing which candidates are tested.
    /// </summary>
    public static IReadOnlyList<double> AbortThresholdsWorthTesting(ChainData data, IReadOnlyList<int> rows)
    {
        if (data.Drafts is not { } drafts || data.Stages < 2 || rows.Count == 0)
        {
            return [];
        }

        var draftsCount = rows.Count * (data.Stages - 1);
        return
        [
            .. AbortGrid.Where(a =>
            {
                var rule = new AbortRule(a, drafts.MinTokens, drafts.Window, drafts.TopLogprobs);
                var cut = 0;
                for (var stage = 0; stage < data.Stages - 1; stage++)
                {
                    cut += rows.Count(i => drafts.AbortsAt(i, stage, rule) > 0);
                }

                return cut >= MinAbortedShare * draftsCount;
            }),
        ];
    }

    private static IReadOnlyList<CandidatePath> SubChainPlan(int stages)
    {
        var top = stages - 1;
        if (top < 1)
        {
            return [];
        }

        var twoStageWeight = Enumerable.Range(0, top).Sum(s => Math.Pow(2, s));
        var multiStage = SubChains(stages).Where(c => c.Length > 2).ToList();
        var twoStageShare = multiStage.Count == 0 ? 1 : 1 - MultiStageShareOfDelta;
        return
        [
            .. Enumerable.Range(0, top).Select(s => new CandidatePath([s, top], twoStageShare * Math.Pow(2, s) / twoStageWeight)),
            .. multiStage.Select(c => new CandidatePath(c, MultiStageShareOfDelta / multiStage.Count)),
        ];
    }

    public static ThresholdFit FitRiskBounded(ChainData full, IReadOnlyList<int> rows, double epsilon, double delta)
    {
        var top = full.Stages - 1;
        var topCost = rows.Sum(i => full.CostUsd[i, top]);
        (CandidatePath Candidate, double Threshold, double Risk, double Cost)? best = null;
        foreach (var candidate in Plan(full.Stages, AbortThresholdsWorthTesting(full, rows)))
        {
            var path = new EqualThresholdPath(full, candidate.Stages, rows, AbortRuleOf(full, candidate));
            var bound = new NetLossBound(rows.Count, delta * candidate.DeltaShare);
            foreach (var g in LogGrid.Skip(1))
            {
                var threshold = ToThreshold(g);
                var (cost, lost, gained) = path.LowerTo(threshold);
                var risk = bound.Of(lost, gained);
                if (risk > epsilon)
                {
                    break;
                }

                if (cost < (best?.Cost ?? topCost))
                {
                    best = (candidate, threshold, risk, cost);
                }
            }
        }

        if (best is not { } chosen)
        {
            return TopOnly(full, rows);
        }

        var stages = chosen.Candidate.Stages;
        var thresholds = Enumerable.Repeat(chosen.Threshold, stages.Count - 1).ToArray();
        var rule = AbortRuleOf(full, chosen.Candidate);
        AbortRule[]? abortRules = rule.IsNone ? null : [.. Enumerable.Repeat(rule, stages.Count - 1)];
        return new ThresholdFit(Models(full, stages), thresholds, "risk-bounded", chosen.Risk, CascadeReplay.Run(full, stages, thresholds, rows, abortRules)) { AbortRules = abortRules };
    }

    private static AbortRule AbortRuleOf(ChainData data, CandidatePath candidate) =>
        candidate.AbortThreshold is { } threshold && data.Drafts is { } drafts
            ? new AbortRule(threshold, drafts.MinTokens, drafts.Window, drafts.TopLogprobs)
            : AbortRule.None;

    /// <summary>
    /// The simplest valid method, the reference point: the first and the top model only, and the
    /// lowest threshold whose Clopper-Pearson upper bound on "accepted small answer wrong while the
    /// top model is right" is at most eps.
    /// </summary>
    public static ThresholdFit FitBaseline(ChainData full, IReadOnlyList<int> rows, double epsilon, double delta)
    {
        int[] stages = [0, full.Stages - 1];
        var path = new EqualThresholdPath(full, stages, rows, AbortRule.None);
        var bounds = new Dictionary<int, double>();
        double? lowest = null;
        var lowestBound = 0.0;
        foreach (var g in LogGrid)
        {
            var (_, lost, _) = path.LowerTo(ToThreshold(g));
            if (!bounds.TryGetValue(lost, out var bound))
            {
                bound = bounds[lost] = ClopperPearson.Upper(lost, rows.Count, delta);
            }

            if (bound <= epsilon)
            {
                (lowest, lowestBound) = (ToThreshold(g), bound);
            }
        }

        double[] thresholds = [lowest ?? 1];
        var outcome = CascadeReplay.Run(full, stages, thresholds, rows);
        return lowest is null
            ? new ThresholdFit(Models(full, stages), thresholds, "never-accept-early", 0, outcome, "no threshold passed the bound")
            : new ThresholdFit(Models(full, stages), thresholds, "baseline", lowestBound, outcome);
    }

    /// <summary>
    /// The most accurate setting (the earliest on the equal-threshold path) whose cost per 1,000
    /// queries, bounded above by Hoeffding at 1 - delta, fits the budget; and likewise for mean latency.
    /// </summary>
    public static ThresholdFit FitBudget(ChainData data, IReadOnlyList<int> rows, PolicyTarget target)
    {
        var n = rows.Count;
        var slack = Math.Sqrt(Math.Log(1 / target.Delta) / (2 * n));
        var maxCost = rows.Max(i => Enumerable.Range(0, data.Stages).Sum(s => data.CostUsd[i, s])) * 1000;
        var maxLatency = rows.Max(i => Enumerable.Range(0, data.Stages).Sum(s => data.LatencyMs[i, s]));
        foreach (var g in LogGrid)
        {
            var thresholds = Enumerable.Repeat(ToThreshold(g), data.Stages - 1).ToArray();
            var outcome = CascadeReplay.Run(data, thresholds, rows);
            var costOk = target.BudgetUsdPer1kQueries is not { } budget || outcome.UsdPer1kQueries + maxCost * slack <= budget;
            var latencyOk = target.LatencyMs is not { } latency || outcome.MeanLatencyMs + maxLatency * slack <= latency;
            if (costOk && latencyOk)
            {
                return new ThresholdFit(data.Chain, thresholds, "budget", outcome.UsdPer1kQueries + maxCost * slack, outcome);
            }
        }

        var cheapest = Enumerable.Repeat(0.0, data.Stages - 1).ToArray();
        return new ThresholdFit(data.Chain, cheapest, "budget", double.NaN, CascadeReplay.Run(data, cheapest, rows), "the budget or latency bound cannot be met with confidence 1 - delta; the cheapest setting is returned");
    }

    /// <summary>Every sub-chain that ends at the top model and has at least two models, the full chain first.</summary>
    private static List<int[]> SubChains(int stages)
    {
        var top = stages - 1;
        var result = new List<int[]>();
        for (var mask = (1 << top) - 1; mask >= 1; mask--)
        {
            result.Add([.. Enumerable.Range(0, top).Where(s => (mask & (1 << s)) != 0), top]);
        }

        return result;
    }

    private static ThresholdFit TopOnly(ChainData full, IReadOnlyList<int> rows) =>
        new([full.Chain[^1]], [], "top-only", 0, CascadeReplay.Run(full, [full.Stages - 1], [], rows), "no setting certified a saving: every query goes to the top model");

    private static string[] Models(ChainData full, IReadOnlyList<int> stages) => [.. stages.Select(s => full.Chain[s])];

    private static double ToThreshold(double logThreshold) =>
        logThreshold == 0 ? 1 : double.IsNegativeInfinity(logThreshold) ? 0 : Math.Exp(logThreshold);

    private static List<double> BuildGrid()
    {
        // Fine near 0, where real models put most answers: a quarter or more sit at log-prob
        // exactly 0 (stored as 1 - 1e-12), and the next blocks matter as much.
        var grid = new List<double> { 0, -2e-12 };
        for (var exponent = -11; exponent <= -3; exponent++)
        {
            grid.Add(-Math.Pow(10, exponent));
            grid.Add(-3 * Math.Pow(10, exponent));
        }

        for (var i = 1; i <= 30; i++)
        {
            grid.Add(-0.01 * i);
        }

        for (var i = 7; i <= 20; i++)
        {
            grid.Add(-0.05 * i);
        }

        for (var i = 6; i <= 25; i++)
        {
            grid.Add(-0.2 * i);
        }

        grid.Add(double.NegativeInfinity);
        return grid;
    }

    /// <summary>
    /// A cascade over <c>stages</c> of the chain with one threshold at every stage but the last,
    /// lowered step by step: a query is answered by the earliest stage whose confidence reaches the
    /// threshold, so lowering it only ever moves a query to an earlier stage. A stage whose draft the
    /// abort rule cuts never answers, and is paid up to the cut. The moves are sorted once, and each
    /// step applies the ones it passes: the whole path costs one sort instead of a replay of every
    /// query at every step.
    /// </summary>
    private sealed class EqualThresholdPath
    {
        private readonly ChainData data;
        private readonly IReadOnlyList<int> stages;
        private readonly int[] rows;
        private readonly int[] answeredAt;
        private readonly double[,] costIfAnsweredAt;
        private readonly double[] moveConfidence;
        private readonly (int Row, int Position)[] moves;
        private int applied;
        private double cost;
        private int lost;
        private int gained;

        public EqualThresholdPath(ChainData data, IReadOnlyList<int> stages, IReadOnlyList<int> rows, AbortRule abort)
        {
            this.data = data;
            this.stages = stages;
            this.rows = [.. rows];
            var top = stages.Count - 1;
            answeredAt = [.. rows.Select(_ => top)];
            costIfAnsweredAt = new double[this.rows.Length, stages.Count];
            var confidences = new List<double>();
            var found = new List<(int, int)>();
            for (var r = 0; r < this.rows.Length; r++)
            {
                var i = this.rows[r];
                var before = 0.0;

                // Only a stage that is not cut and is more confident than every such stage before it ever answers the query.
                var highest = double.NegativeInfinity;
                for (var position = 0; position <= top; position++)
                {
                    var stage = stages[position];
                    var cut = position == top || abort.IsNone ? 0 : data.Drafts!.AbortsAt(i, stage, abort);
                    costIfAnsweredAt[r, position] = before + data.CostUsd[i, stage];
                    if (cut > 0)
                    {
                        before += data.Drafts!.CostUsd(i, stage, cut);
                        continue;
                    }

                    before += data.EscalationCostUsd[i, stage];
                    var confidence = data.Confidence[i, stage];
                    if (position < top && confidence > highest)
                    {
                        confidences.Add(-confidence);
                        found.Add((r, position));
                        highest = confidence;
                    }
                }

                cost += costIfAnsweredAt[r, top];
            }

            moveConfidence = [.. confidences];
            moves = [.. found];
            Array.Sort(moveConfidence, moves);
        }

        /// <summary>Cost, losses and gains versus the top model once the threshold is <paramref name="threshold"/>.</summary>
        public (double Cost, int Lost, int Gained) LowerTo(double threshold)
        {
            for (; applied < moves.Length && -moveConfidence[applied] >= threshold; applied++)
            {
                var (r, position) = moves[applied];
                if (position < answeredAt[r])
                {
                    Count(r, -1);
                    answeredAt[r] = position;
                    Count(r, +1);
                }
            }

            return (cost, lost, gained);
        }

        private void Count(int r, int sign)
        {
            var i = rows[r];
            var position = answeredAt[r];
            var top = data.Stages - 1;
            cost += sign * costIfAnsweredAt[r, position];
            var right = data.Correct[i, stages[position]];
            lost += sign * (data.Correct[i, top] && !right ? 1 : 0);
            gained += sign * (!data.Correct[i, top] && right ? 1 : 0);
        }
    }

    /// <summary>
    /// Upper confidence bound at level alpha on the net loss of n queries, remembering the
    /// Clopper-Pearson bounds it computed: along a path the same counts come back many times.
    /// </summary>
    private sealed class NetLossBound(int queries, double alpha)
    {
        private readonly Dictionary<int, double> upper = [];
        private readonly Dictionary<int, double> lower = [];

        public double Of(int lost, int gained)
        {
            if (!upper.TryGetValue(lost, out var u))
            {
                u = upper[lost] = ClopperPearson.Upper(lost, queries, alpha * LostShareOfLevel);
            }

            if (!lower.TryGetValue(gained, out var l))
            {
                l = lower[gained] = ClopperPearson.Lower(gained, queries, alpha * (1 - LostShareOfLevel));
            }

            return u - l;
        }
    }
}
