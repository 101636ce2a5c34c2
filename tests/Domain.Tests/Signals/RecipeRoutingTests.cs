using Router.Domain.Calibration;
using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Signals;

/// <summary>What a route does with a policy's recipes: which stage pays for extra calls, how the score becomes P(correct), how the calls are priced.</summary>
public sealed class RecipeRoutingTests
{
    private static readonly IReadOnlyList<PortfolioModel> Portfolio = [new("small", new TokenPrice(0.2m, 0.4m)), new("medium", new TokenPrice(1m, 2m)), new("large", new TokenPrice(5m, 15m))];
    private static readonly SignalRecipe PTrue = SignalRecipe.Single(SignalNames.PTrue);
    private static readonly SignalRecipe Agreement = SignalRecipe.Single(SignalNames.Agreement, samples: 5);

    private static PinnedPolicy Policy(IReadOnlyList<SignalRecipe>? recipes) =>
        new("p", "1", new PolicyArtifact(["small", "medium", "large"], [0.8, 0.7], "calibrated", null, "test", null, null, null) { Recipes = recipes });

    [Fact]
    public void Only_stages_whose_score_meets_a_threshold_use_their_recipe_so_the_last_direct_and_policyless_stages_pay_for_nothing()
    {
        var plan = CascadePlanner.Routed("p", Policy([PTrue, Agreement, PTrue]), RoutingMode.Cascade, null, Portfolio, new RequestLimits(), TimeSpan.FromSeconds(5));
        var run = new CascadeRun(plan);
        var recipes = new List<SignalRecipe>();
        while (run.NextStage(0) is { } call)
        {
            recipes.Add(plan.RecipeFor(call));
            run.Record(new StageAnswered(0.1, 10, 5), 0, 0);
        }

        Assert.Equal([PTrue, Agreement, SignalRecipe.Default], recipes);

        var hybrid = CascadePlanner.Routed("p", Policy([PTrue, Agreement, PTrue]), RoutingMode.Hybrid, 1, Portfolio, new RequestLimits(), TimeSpan.FromSeconds(5));
        Assert.Equal(Agreement, hybrid.RecipeFor(new CascadeRun(hybrid).NextStage(0)!));

        var unavailable = CascadePlanner.Routed("p", null, RoutingMode.Cascade, null, Portfolio, new RequestLimits(), TimeSpan.FromSeconds(5));
        Assert.Equal(SignalRecipe.Default, unavailable.RecipeFor(new CascadeRun(unavailable).NextStage(0)!));

        var direct = CascadePlanner.Direct(Portfolio[0], Portfolio, new RequestLimits(), TimeSpan.FromSeconds(5));
        Assert.Equal(SignalRecipe.Default, direct.RecipeFor(new CascadeRun(direct).NextStage(0)!));

        // A policy stored before recipes, or with fewer recipes than stages, trusts the mean log-prob.
        Assert.Equal(SignalRecipe.Default, Policy(null).Artifact.RecipeAt(0));
        Assert.Equal(SignalRecipe.Default, Policy([PTrue]).Artifact.RecipeAt(1));
    }

    [Fact]
    public void A_recipe_score_is_read_through_its_own_signal_calibrator_and_raw_without_one()
    {
        var signals = new Dictionary<string, double> { [SignalNames.PTrue] = 0.9, [SignalNames.GeometricMeanProbability] = 0.3, [SignalNames.MeanLogprob] = Math.Log(0.3) };
        var platt = new PlattCalibrator(1, -1);

        var calibrated = CalibratedConfidence.OfRecipe(PTrue, signals, new CalibratorArtifact(SignalNames.PTrue, platt));
        var raw = CalibratedConfidence.OfRecipe(PTrue, signals, null);
        var wrongSignal = CalibratedConfidence.OfRecipe(PTrue, signals, new CalibratorArtifact(SignalNames.GeometricMeanProbability, platt));
        var byDefault = CalibratedConfidence.OfRecipe(SignalRecipe.Default, signals, new CalibratorArtifact(SignalNames.GeometricMeanProbability, platt));
        var fused = CalibratedConfidence.OfRecipe(SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue], [0.5, 1, 1]), signals, null);

        Assert.Equal(new CalibratedConfidence(platt.Calibrate(0.9), SignalNames.PTrue, true), calibrated);
        Assert.Equal(new CalibratedConfidence(0.9, SignalNames.PTrue, false), raw);
        Assert.Equal(raw, wrongSignal);
        Assert.Equal(CalibratedConfidence.Of(signals, new CalibratorArtifact(SignalNames.GeometricMeanProbability, platt)), byDefault);
        Assert.Equal(Calibrator.Sigmoid(0.5 + Calibrator.Logit(0.3) + Calibrator.Logit(0.9)), fused.PCorrect, 9);
        Assert.True(fused.Calibrated);

        // A verification that never came back is the least confident score, never an error.
        Assert.Equal(0, CalibratedConfidence.OfRecipe(PTrue, new Dictionary<string, double>(), null).PCorrect);
    }

    [Fact]
    public void Extra_calls_are_added_up_and_priced_at_the_models_rates()
    {
        var price = new TokenPrice(0.2m, 0.4m);
        ExtraCall[] calls = [new(100, 8, 30), new(100, 10, 50), new(100, 6, 40)];

        var concurrent = ExtraCallUsage.Of(ExtraCallKinds.Sample, calls, price, concurrent: true);
        var sequential = ExtraCallUsage.Of(ExtraCallKinds.Sample, calls, price, concurrent: false);

        Assert.Equal(new ExtraCallUsage(ExtraCallKinds.Sample, 3, 300, 24, price.Cost(300, 24), 50), concurrent);
        Assert.Equal(120, sequential.LatencyMs);
        Assert.Equal(new Router.Domain.Traces.ExtraCallRecord(3, 300, 24, (double)price.Cost(300, 24), 50), concurrent.ToRecord());
        Assert.Equal(new ExtraCallUsage(ExtraCallKinds.SelfVerification, 0, 0, 0, 0m, 0), ExtraCallUsage.Of(ExtraCallKinds.SelfVerification, [], price, concurrent: true));
    }

    [Fact]
    public void Sample_seeds_differ_per_sample_and_are_reproducible_from_the_request()
    {
        long[] fromSeed = [.. Enumerable.Range(0, 5).Select(i => SignalRecipe.SampleSeed(7, "req-1", i))];
        long[] fromId = [.. Enumerable.Range(0, 5).Select(i => SignalRecipe.SampleSeed(null, "req-1", i))];

        Assert.Equal(new long[] { 8, 9, 10, 11, 12 }, fromSeed);
        Assert.Equal(5, fromId.Distinct().Count());
        Assert.Equal(fromId, Enumerable.Range(0, 5).Select(i => SignalRecipe.SampleSeed(null, "req-1", i)).ToArray());
        Assert.NotEqual(fromId[0], SignalRecipe.SampleSeed(null, "req-2", 0));
    }
}
