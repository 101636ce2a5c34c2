using Router.Domain.Policies;
using Xunit;

namespace Router.Domain.Tests.Policies;

public sealed class ThresholdFitterTests
{
    private const double Epsilon = 0.01;
    private const double Delta = 0.1;

    [Fact]
    public void Uninformative_confidence_routes_straight_to_the_top_model()
    {
        // Confidence is noise, independent of who is right: no early answer can be trusted.
        var data = Synthetic(new Random(1), 2000, [0.6, 0.75, 0.9], (random, _, _) => random.NextDouble());
        var calibration = Enumerable.Range(0, 1000).ToArray();
        var fresh = Enumerable.Range(1000, 1000).ToArray();

        var fit = ThresholdFitter.FitRiskBounded(data, calibration, Epsilon, Delta);

        Assert.Equal("top-only", fit.Method);
        Assert.Equal(["large"], fit.Chain);
        Assert.Empty(fit.Thresholds);
        Assert.NotNull(fit.Note);
        var replay = fit.Replay(data, fresh);
        Assert.Equal(replay.TopCostUsd, replay.CostUsd, 9);
        Assert.Equal(0, replay.AccuracyChange);
    }

    [Fact]
    public void A_fit_never_costs_more_than_the_top_model_on_the_queries_it_was_fitted_on()
    {
        for (var seed = 0; seed < 40; seed++)
        {
            var random = new Random(seed);
            var signal = random.NextDouble();
            var data = Synthetic(random, 400, [0.5, 0.7, 0.8, 0.92], (r, right, _) => right ? 1 - signal * r.NextDouble() : (1 - signal) * r.NextDouble());
            var rows = Enumerable.Range(0, data.Queries).ToArray();

            var fit = ThresholdFitter.FitRiskBounded(data, rows, 0.05, Delta);

            Assert.True(fit.OnCalibration.CostUsd <= fit.OnCalibration.TopCostUsd + 1e-9, $"seed {seed}: {fit.OnCalibration.CostUsd} > {fit.OnCalibration.TopCostUsd}");
            Assert.Equal("large", fit.Chain[^1]);
            Assert.True(fit.RiskBound <= 0.05);
        }
    }

    [Fact]
    public void A_useless_cheap_stage_is_skipped_and_a_trustworthy_one_is_used()
    {
        // "small" is noise; "medium" is right whenever it says more than 0.6 and agrees with the top model then.
        var data = Synthetic(new Random(2), 2000, [0.55, 0.8, 0.9], (random, right, stage) => stage == 0 ? random.NextDouble() : right ? 0.5 + 0.5 * random.NextDouble() : 0.6 * random.NextDouble());
        var calibration = Enumerable.Range(0, 1000).ToArray();
        var fresh = Enumerable.Range(1000, 1000).ToArray();

        var fit = ThresholdFitter.FitRiskBounded(data, calibration, Epsilon, Delta);
        var replay = fit.Replay(data, fresh);

        Assert.Equal(["medium", "large"], fit.Chain);
        Assert.True(replay.CostSaved > 0.2, $"saved {replay.CostSaved:P1}");
        Assert.True(-replay.AccuracyChange <= Epsilon, $"lost {-replay.AccuracyChange:P2}");
    }

    [Fact]
    public void The_reported_bound_is_the_clopper_pearson_bound_of_the_chosen_settings_counts_at_its_share_of_delta()
    {
        var data = Synthetic(new Random(3), 1500, [0.55, 0.8, 0.9], (random, right, _) => right ? 0.4 + 0.6 * random.NextDouble() : 0.7 * random.NextDouble());
        var rows = Enumerable.Range(0, data.Queries).ToArray();

        var fit = ThresholdFitter.FitRiskBounded(data, rows, 0.03, Delta);
        var share = ThresholdFitter.Plan(data.Stages).Single(c => c.Stages.Select(s => data.Chain[s]).SequenceEqual(fit.Chain)).DeltaShare;
        var alpha = Delta * share;
        var expected = ClopperPearson.Upper(fit.OnCalibration.LostToTop, rows.Length, alpha * ThresholdFitter.LostShareOfLevel)
            - ClopperPearson.Lower(fit.OnCalibration.GainedOverTop, rows.Length, alpha * (1 - ThresholdFitter.LostShareOfLevel));

        Assert.Equal("risk-bounded", fit.Method);
        Assert.Equal(expected, fit.RiskBound, 12);
        Assert.True(fit.RiskBound <= 0.03);
    }

    [Fact]
    public void The_plan_tests_every_sub_chain_ending_at_the_top_and_spends_delta_once()
    {
        var plan = ThresholdFitter.Plan(4);

        Assert.Equal(7, plan.Count);
        Assert.All(plan, c => Assert.Equal(3, c.Stages[^1]));
        Assert.Equal(1, plan.Sum(c => c.DeltaShare), 12);
        Assert.Equal(ThresholdFitter.MultiStageShareOfDelta, plan.Where(c => c.Stages.Count > 2).Sum(c => c.DeltaShare), 12);
        var twoStage = plan.Where(c => c.Stages.Count == 2).OrderBy(c => c.Stages[0]).Select(c => c.DeltaShare).ToArray();
        Assert.Equal([0.9 / 7, 0.9 * 2 / 7, 0.9 * 4 / 7], twoStage, new ToleranceComparer(1e-12));
        Assert.Equal(1, ThresholdFitter.Plan(2).Single().DeltaShare);
        Assert.Empty(ThresholdFitter.Plan(1));
    }

    [Fact]
    public void A_single_model_chain_is_the_top_model_only()
    {
        var data = Synthetic(new Random(4), 100, [0.9], (random, _, _) => random.NextDouble());

        var fit = ThresholdFitter.FitRiskBounded(data, [.. Enumerable.Range(0, 100)], Epsilon, Delta);

        Assert.Equal(["large"], fit.Chain);
        Assert.Empty(fit.Thresholds);
        Assert.Empty(new EscalationPolicy(fit.Chain, fit.Thresholds).Problems());
    }

    /// <summary>
    /// The guarantee itself: on a population whose true loss for any setting is known (measured on
    /// 100,000 fresh queries), fits on many independent calibration samples pick a setting whose
    /// true loss exceeds eps at most delta of the time. The fits do come close to eps (picking the
    /// cheapest setting whose loss on the sample is within eps exceeds it about half of the time here).
    /// </summary>
    [Fact]
    public void Fitted_policies_exceed_eps_on_the_population_at_most_delta_of_the_time()
    {
        const double eps = 0.03;
        const int samples = 200;
        double[] skill = [0.6, 0.75, 0.85];
        var population = Nested(new Random(100), 100_000, skill);
        var everyone = Enumerable.Range(0, population.Queries).ToArray();
        var truths = new Dictionary<string, CascadeOutcome>();
        var exceeded = 0;
        var meanLoss = 0.0;
        for (var sample = 0; sample < samples; sample++)
        {
            var data = Nested(new Random(1000 + sample), 400, skill);
            var fit = ThresholdFitter.FitRiskBounded(data, [.. Enumerable.Range(0, data.Queries)], eps, Delta);
            var setting = string.Join(">", fit.Chain) + " " + string.Join(" ", fit.Thresholds);
            if (!truths.TryGetValue(setting, out var truth))
            {
                truth = truths[setting] = fit.Replay(population, everyone);
            }

            exceeded += -truth.AccuracyChange > eps ? 1 : 0;
            meanLoss += -truth.AccuracyChange / samples;
        }

        Assert.True(exceeded <= Delta * samples, $"{exceeded} of {samples} fits exceed eps on the population");
        Assert.True(meanLoss > eps / 4, $"mean true loss {meanLoss:P2}: the fits stay far from eps and the test would pass trivially");
    }

    /// <summary>
    /// A model is right exactly on the queries easier than its skill, so the top model is right
    /// whenever a cheaper one is (no gains to credit); confidence is the margin plus noise, so
    /// accepting more early answers lets in more wrong ones, smoothly.
    /// </summary>
    private static ChainData Nested(Random random, int queries, double[] skill)
    {
        var data = new ChainData(["small", "medium", "large"], new double[queries, 3], new bool[queries, 3], new double[queries, 3], new double[queries, 3]);
        for (var i = 0; i < queries; i++)
        {
            var difficulty = random.NextDouble();
            for (var s = 0; s < 3; s++)
            {
                data.Correct[i, s] = difficulty < skill[s];
                data.Confidence[i, s] = Math.Clamp(0.5 + skill[s] - difficulty + 0.6 * (random.NextDouble() - 0.5), 0, ChainData.MaxConfidence);
                data.CostUsd[i, s] = Math.Pow(3, s);
                data.LatencyMs[i, s] = 100 * (s + 1);
            }
        }

        return data;
    }

    /// <summary>
    /// Queries of graded difficulty; stage s is right with a probability that falls with difficulty
    /// from its skill; its confidence comes from <paramref name="confidence"/> given whether it is
    /// right. Costs 1, 3, 9, ... so the last stage, "large", is the dearest.
    /// </summary>
    private static ChainData Synthetic(Random random, int queries, double[] skill, Func<Random, bool, int, double> confidence)
    {
        string[] names = skill.Length switch
        {
            1 => ["large"],
            3 => ["small", "medium", "large"],
            _ => [.. Enumerable.Range(0, skill.Length - 1).Select(s => $"m{s}"), "large"],
        };
        var m = skill.Length;
        var data = new ChainData(names, new double[queries, m], new bool[queries, m], new double[queries, m], new double[queries, m]);
        for (var i = 0; i < queries; i++)
        {
            var difficulty = random.NextDouble();
            for (var s = 0; s < m; s++)
            {
                var right = random.NextDouble() < Math.Clamp(skill[s] + 0.4 * (0.5 - difficulty), 0, 1);
                data.Correct[i, s] = right;
                data.Confidence[i, s] = Math.Min(confidence(random, right, s), ChainData.MaxConfidence);
                data.CostUsd[i, s] = Math.Pow(3, s);
                data.LatencyMs[i, s] = 100 * (s + 1);
            }
        }

        return data;
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}
