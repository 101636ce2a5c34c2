using Router.Domain.Policies;
using Router.Domain.Routing;
using Xunit;

namespace Router.Domain.Tests.Policies;

public sealed class PolicyTests
{
    private static readonly EscalationPolicy ThreeStages = new(["small", "medium", "large"], [0.8, 0.6]);

    [Fact]
    public void Clopper_pearson_bounds_match_known_values()
    {
        // Rule of three: 0 events in n trials gives an upper 95% bound of about 3/n.
        Assert.Equal(0.0295, ClopperPearson.Upper(0, 100, 0.05), 4);
        Assert.Equal(0.0, ClopperPearson.Lower(0, 100, 0.05));
        Assert.Equal(1.0, ClopperPearson.Upper(10, 10, 0.05));
        // Beta(0.5; 3, 3) = 0.5 by symmetry.
        Assert.Equal(0.5, ClopperPearson.RegularizedBeta(0.5, 3, 3), 12);
        var upper = ClopperPearson.Upper(5, 50, 0.05);
        var lower = ClopperPearson.Lower(5, 50, 0.05);
        Assert.InRange(upper, 0.19, 0.21);
        Assert.InRange(lower, 0.03, 0.045);
    }

    [Theory]
    [InlineData(0, 150, 0.1)]
    [InlineData(3, 650, 0.045)]
    [InlineData(40, 908, 0.005)]
    [InlineData(200, 1000, 0.09)]
    [InlineData(350, 1000, 0.09)]
    public void Clopper_pearson_bounds_put_exactly_alpha_in_the_binomial_tail(int events, int trials, double alpha)
    {
        // Few events are solved by summing the binomial tail, many by the incomplete beta function;
        // both must land where the tail holds alpha.
        var upper = ClopperPearson.Upper(events, trials, alpha);
        Assert.Equal(alpha, ClopperPearson.BinomialCdf(events, trials, upper), 9);
        Assert.Equal(alpha, 1 - ClopperPearson.RegularizedBeta(upper, events + 1, trials - events), 9);
        if (events > 0)
        {
            var lower = ClopperPearson.Lower(events, trials, alpha);
            Assert.Equal(1 - alpha, ClopperPearson.BinomialCdf(events - 1, trials, lower), 9);
            Assert.True(lower < events / (double)trials && events / (double)trials < upper);
        }
    }

    [Fact]
    public void Accepts_above_the_threshold_escalates_below_and_the_last_stage_always_answers()
    {
        var limits = new RequestLimits();

        Assert.Equal(PolicyDecision.Accept, ThreeStages.Decide(0, 0.85, 0, 0, limits, 0.01).Decision);
        Assert.Equal(StageReason.ConfidenceBelowThreshold, ThreeStages.Decide(0, 0.5, 0, 0, limits, 0.01).Reason);
        Assert.Equal(PolicyDecision.Escalate, ThreeStages.Decide(1, 0.5, 0, 0, limits, 0.01).Decision);
        Assert.Equal((PolicyDecision.Accept, StageReason.LastStage), (ThreeStages.Decide(2, 0.01, 0, 0, limits, 0).Decision, ThreeStages.Decide(2, 0.01, 0, 0, limits, 0).Reason));
    }

    [Fact]
    public void Request_limits_narrow_the_policy()
    {
        var min = ThreeStages.Decide(0, 0.85, 0, 0, new RequestLimits(MinConfidence: 0.9), 0.01);
        var budget = ThreeStages.Decide(0, 0.5, 0.004, 0, new RequestLimits(MaxCostUsd: 0.01), 0.007);
        var latency = ThreeStages.Decide(0, 0.5, 0, 2000, new RequestLimits(MaxLatencyMs: 1500), 0.001);

        Assert.Equal((PolicyDecision.Escalate, StageReason.BelowMinConfidence, 0.9), (min.Decision, min.Reason, min.Threshold));
        Assert.Equal((PolicyDecision.Stop, StageReason.BudgetExhausted), (budget.Decision, budget.Reason));
        Assert.Equal((PolicyDecision.Stop, StageReason.LatencyExhausted), (latency.Decision, latency.Reason));
    }

    [Fact]
    public void A_malformed_policy_names_each_problem()
    {
        var problems = new EscalationPolicy(["a", "a", "b"], [1.5]).Problems();

        Assert.Contains(problems, p => p.StartsWith("chain:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("thresholds:", StringComparison.Ordinal));
        Assert.Empty(ThreeStages.Problems());
        Assert.Throws<ArgumentOutOfRangeException>(() => ThreeStages.Decide(3, 0.5, 0, 0, new RequestLimits(), 0));
    }

    [Fact]
    public void A_tied_block_is_accepted_or_escalated_as_a_whole()
    {
        // Four answers tied at log-prob 0: no threshold can split them.
        var data = new ChainData(
            ["small", "large"],
            new double[,] { { ChainData.MaxConfidence, 0 }, { ChainData.MaxConfidence, 0 }, { ChainData.MaxConfidence, 0 }, { ChainData.MaxConfidence, 0 }, { 0.2, 0 } },
            new bool[,] { { true, true }, { true, true }, { false, true }, { true, true }, { false, true } },
            new double[,] { { 1, 10 }, { 1, 10 }, { 1, 10 }, { 1, 10 }, { 1, 10 } },
            new double[,] { { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 } });

        var accepted = ThresholdFitter.LogGrid.Select(g => CascadeReplay.Run(data, [g == 0 ? 1 : Math.Exp(g)], [0, 1, 2, 3, 4]).EscalationRate[0]).Distinct().Order().ToList();

        Assert.Equal([0.0, 0.2, 1.0], accepted);
    }
}
