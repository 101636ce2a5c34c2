using Router.Domain.Calibration;
using Router.Domain.Evaluation;
using Router.Domain.Metrics;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Xunit;

namespace Router.Domain.Tests.Policies;

public sealed class RecipeFitterTests
{
    private const double Epsilon = 0.02;
    private const double Delta = 0.1;
    private const string Benchmark = "bench";
    private static readonly string[] Chain = ["small", "large"];

    [Fact]
    public void Candidates_are_declared_from_the_signal_names_alone()
    {
        var candidates = RecipeFitter.Candidates(
            new HashSet<string> { SignalNames.MeanLogprob, SignalNames.GeometricMeanProbability, SignalNames.MinMaxProbability, SignalNames.PTrue, SignalNames.Agreement, SignalNames.AnswerTokens },
            samples: 5);

        Assert.Equal(
            [
                "mean_logprob", "min_max_probability", "p_true", "agreement[m=5]",
                "fused(mean_logprob,min_max_probability)",
                "fused(mean_logprob,min_max_probability,p_true)",
                "fused(mean_logprob,min_max_probability,p_true,agreement)[m=5]",
            ],
            candidates.Select(c => c.Key));
        Assert.DoesNotContain(RecipeFitter.Candidates(new HashSet<string> { SignalNames.Agreement, SignalNames.PTrue }, samples: 0), c => c.NeedsSamples);
    }

    [Fact]
    public void An_informative_cheap_p_true_is_chosen_and_saves_more_than_the_mean_logprob_with_the_bound_holding_on_fresh_queries()
    {
        var traces = Traces(new Random(1), 3000, pTrueCostUsd: 0.0002);
        var fresh = Traces(new Random(2), 4000, pTrueCostUsd: 0.0002);
        var target = new PolicyTarget(Epsilon, Delta);

        var fit = RecipeFitter.Fit(traces, Benchmark, Chain, target);
        var logprobOnly = RecipeFitter.Fit(traces, Benchmark, Chain, target, new HashSet<string> { SignalNames.MeanLogprob });
        var replay = fit.Fit.Replay(fit.DataFor(fresh, Benchmark), [.. Enumerable.Range(0, 4000)]);
        var logprobReplay = logprobOnly.Fit.Replay(logprobOnly.DataFor(fresh, Benchmark), [.. Enumerable.Range(0, 4000)]);

        Assert.Contains(SignalNames.PTrue, fit.Recipes[0].SignalsRead);
        Assert.Equal(SignalRecipe.Default.Key, fit.Recipes[^1].Key);
        Assert.Equal("calibrated", fit.ConfidenceScale);
        Assert.Equal(3000, fit.SelectionQueries + fit.CertificationQueries);
        Assert.Equal(SignalNames.MeanLogprob, logprobOnly.Choices[0].Chosen.Recipe.Key);
        Assert.True(replay.CostSaved > logprobReplay.CostSaved + 0.05, $"{fit.Recipes[0].Key} saved {replay.CostSaved:P1}, the mean log-prob {logprobReplay.CostSaved:P1}");
        Assert.True(-replay.AccuracyChange <= Epsilon, $"lost {-replay.AccuracyChange:P2}");
    }

    [Fact]
    public void Extra_calls_are_priced_into_the_choice_and_the_fit()
    {
        // P(True) separates right from wrong, but asking it costs more than the large model answering.
        var traces = Traces(new Random(3), 3000, pTrueCostUsd: 0.02);

        var fit = RecipeFitter.Fit(traces, Benchmark, Chain, new PolicyTarget(Epsilon, Delta));
        var pTrue = fit.Choices[0].Candidates.Single(c => c.Recipe.Key == SignalNames.PTrue);
        var certified = RecipeFitter.Join(traces, Benchmark, Chain).Where(q => q[0].Split != RecipeFitter.SelectionSplit).ToList();
        var data = fit.DataFor(traces.Where(t => t.Split != RecipeFitter.SelectionSplit), Benchmark);

        Assert.DoesNotContain(SignalNames.PTrue, fit.Choices[0].Chosen.Recipe.SignalsRead);
        Assert.Equal(20, pTrue.ExtraUsdPer1kQueries, 9);
        Assert.True(pTrue.CostSaved <= 0);
        Assert.Equal(certified.Count, data.Queries);
        Assert.Equal(certified[0][0].CostUsd + certified[0][0].ExtraFor(fit.Choices[0].Chosen.Recipe).CostUsd, data.CostUsd[0, 0], 12);
    }

    [Fact]
    public void A_p_ik_stage_that_escalates_pays_only_for_its_question()
    {
        var traces = Traces(new Random(4), 600, pTrueCostUsd: 0.0002);
        var recipe = CalibratedRecipe.Raw(SignalRecipe.Single(SignalNames.PIk));
        var queries = RecipeFitter.Join(traces, Benchmark, Chain);

        var data = RecipeFitter.Build(queries, [0, 1], Chain, [recipe]);
        var never = CascadeReplay.Run(data, [1.0], [.. Enumerable.Range(0, data.Queries)]);

        Assert.Equal(queries[0][0].ExtraCalls[ExtraCallKinds.DoYouKnow].CostUsd, data.EscalationCostUsd[0, 0], 12);
        Assert.Equal(queries[0][0].CostUsd + queries[0][0].ExtraCalls[ExtraCallKinds.DoYouKnow].CostUsd, data.CostUsd[0, 0], 12);
        Assert.Equal(queries.Sum(q => q[1].CostUsd + q[0].ExtraCalls[ExtraCallKinds.DoYouKnow].CostUsd), never.CostUsd, 9);
    }

    [Fact]
    public void The_in_sample_ceiling_counts_a_before_answer_escalation_at_its_own_cost()
    {
        var data = new ChainData(
            ["small", "large"],
            new double[,] { { 0.9, 0 }, { 0.1, 0 } },
            new bool[,] { { true, true }, { false, true } },
            new double[,] { { 2, 10 }, { 2, 10 } },
            new double[,] { { 1, 1 }, { 1, 1 } },
            new double[,] { { 0.5, 10 }, { 0.5, 10 } },
            new double[,] { { 1, 1 }, { 1, 1 } });

        // Accept the first query early (2), escalate the second (0.5 + 10): 12.5 of 20.
        Assert.Equal(1 - (12.5 / 20), RouteEvaluation.InSampleCeiling(data, [0, 1], 0), 12);
    }

    [Fact]
    public void Without_a_separate_split_each_stage_keeps_its_default_signal_uncalibrated()
    {
        var traces = Traces(new Random(5), 2000, pTrueCostUsd: 0.0002).Select(t => t with { Split = "test" }).ToList();

        var fit = RecipeFitter.Fit(traces, Benchmark, Chain, new PolicyTarget(0.05, Delta));

        Assert.Equal("raw", fit.ConfidenceScale);
        Assert.Equal(SignalNames.MeanLogprob, fit.Choices[0].Chosen.Recipe.Key);
        Assert.Empty(fit.Choices[0].Candidates);
        Assert.Equal(0, fit.SelectionQueries);
    }

    [Fact]
    public void Choosing_recipes_on_the_selection_split_keeps_the_risk_bound_on_fresh_queries()
    {
        // Many fits on small calibration sets, each judged on a large fresh set: the share of fits
        // that lose more than eps must stay within delta, and the losses must come near eps (so the
        // test could fail).
        var fresh = Traces(new Random(1000), 20000, pTrueCostUsd: 0.0002);
        var losses = new List<double>();
        for (var r = 0; r < 30; r++)
        {
            var traces = Traces(new Random(100 + r), 900, pTrueCostUsd: 0.0002);
            var fit = RecipeFitter.Fit(traces, Benchmark, Chain, new PolicyTarget(0.03, Delta));
            losses.Add(-fit.Fit.Replay(fit.DataFor(fresh, Benchmark), [.. Enumerable.Range(0, 20000)]).AccuracyChange);
        }

        Assert.True(losses.Count(l => l > 0.03) <= Delta * losses.Count, $"losses: {string.Join(", ", losses.Select(l => l.ToString("P1")))}");
        Assert.True(losses.Average() > 0.03 / 4, $"mean loss {losses.Average():P2}: the fits stay far from eps");
    }

    [Fact]
    public void Multi_signal_calibrators_are_named_per_model_family_and_signal_and_fitted_as_the_fit_fits_them()
    {
        var traces = Traces(new Random(6), 1000, pTrueCostUsd: 0.0002);

        var fitted = CalibrationFitting.FromSignalTraces(traces);
        var train = traces.Where(t => t.Model == "small" && t.Split == RecipeFitter.SelectionSplit).ToList();
        var pTrue = CalibratedRecipe.Fit(SignalRecipe.Single(SignalNames.PTrue), [.. train.Select(t => t.Signals)], [.. train.Select(t => t.Correct)]);

        Assert.Equal(
            ["large", "large#p_ik", "large#p_true", "large/bench", "large/bench#p_ik", "large/bench#p_true", "small", "small#p_ik", "small#p_true", "small/bench", "small/bench#p_ik", "small/bench#p_true"],
            fitted.Select(f => f.Name).Order(StringComparer.Ordinal));
        Assert.Equal(SignalNames.GeometricMeanProbability, fitted.Single(f => f.Name == "small/bench").Artifact.Signal);
        Assert.Equal(SignalNames.PTrue, fitted.Single(f => f.Name == "small/bench#p_true").Artifact.Signal);
        Assert.Equal(pTrue.Calibrator.Calibrate(0.7), fitted.Single(f => f.Name == "small/bench#p_true").Artifact.Calibrator.Calibrate(0.7), 12);
    }

    [Fact]
    public void A_fused_recipe_fitted_on_two_informative_signals_ranks_better_than_either()
    {
        var traces = Traces(new Random(7), 6000, pTrueCostUsd: 0.0002).Where(t => t.Model == "small").ToList();
        var train = traces.Take(3000).ToList();
        var test = traces.Skip(3000).ToList();

        var fused = SignalFusion.Fit(SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue], []), [.. train.Select(t => t.Signals)], [.. train.Select(t => t.Correct)]);
        double Auroc(SignalRecipe recipe) => CalibrationMetrics.Auroc([.. test.Select(t => RecipeScore.Of(recipe, t.Signals))], [.. test.Select(t => t.Correct)]);

        Assert.Equal(3, fused.Weights.Count);
        Assert.All(fused.Weights.Skip(1), w => Assert.True(w > 0));
        Assert.True(Auroc(fused) > Auroc(SignalRecipe.Single(SignalNames.PTrue)) + 0.01, $"{Auroc(fused)} vs {Auroc(SignalRecipe.Single(SignalNames.PTrue))}");
        Assert.True(Auroc(fused) > Auroc(SignalRecipe.Default) + 0.05);
        var predicted = test.Average(t => RecipeScore.Of(fused, t.Signals));
        Assert.Equal(test.Average(t => t.Correct ? 1.0 : 0.0), predicted, 0.03);
    }

    /// <summary>
    /// A small and a large model on queries of graded difficulty, the large one right whenever the
    /// small one is (so no escalation is credited with a gain). Each answer carries its mean
    /// log-prob (weakly informative), P(True) (strongly informative, its question costing
    /// <paramref name="pTrueCostUsd"/>) and P(IK) (knows only the difficulty); 40% of the queries
    /// are in the selection split. The small model costs 0.001, the large 0.01 per answer.
    /// </summary>
    private static List<SignalTrace> Traces(Random random, int queries, double pTrueCostUsd)
    {
        (string Model, double Skill, double Cost)[] models = [("small", 0.55, 0.001), ("large", 0.9, 0.01)];
        var traces = new List<SignalTrace>();
        for (var i = 0; i < queries; i++)
        {
            var difficulty = random.NextDouble();
            var luck = random.NextDouble();
            var split = random.NextDouble() < 0.4 ? RecipeFitter.SelectionSplit : "test";
            foreach (var (model, skill, cost) in models)
            {
                var pRight = Math.Clamp(skill + (0.6 * (0.5 - difficulty)), 0.02, 0.98);
                var right = luck < pRight;
                var sign = right ? 1 : -1;
                var signals = new Dictionary<string, double>
                {
                    [SignalNames.MeanLogprob] = Math.Log(Calibrator.Sigmoid(1 + (0.4 * sign) + Gaussian(random))),
                    [SignalNames.PTrue] = Calibrator.Sigmoid(0.5 + (0.9 * sign) + Gaussian(random)),
                    [SignalNames.PIk] = Calibrator.Sigmoid(Calibrator.Logit(pRight) + (0.5 * Gaussian(random))),
                };
                var extra = new Dictionary<string, ExtraCallRecord>
                {
                    [ExtraCallKinds.SelfVerification] = new(1, 60, 1, pTrueCostUsd, 5),
                    [ExtraCallKinds.DoYouKnow] = new(1, 40, 1, cost / 10, 5),
                };
                traces.Add(new SignalTrace(Benchmark, split, i, model, right ? "right" : "wrong", right, 40, 20, cost, 100, signals, extra));
            }
        }

        return traces;
    }

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
