using Router.Domain.Evaluation;
using Router.Domain.Policies;
using Router.InferenceWorker.Simulation;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>
/// `router eval early` on the simulated fleet's token-level traces: where wrong drafts lose
/// confidence mid-answer the fitted abort rules save tokens and time within the bound, and where
/// confidence does not fall they change nothing.
/// </summary>
public sealed class EarlyEscalationEvaluationTests
{
    private static readonly string[] Chain = ["llama3.1-70b", "gpt-4o"];

    [Fact]
    public void Falling_confidence_is_cut_early_saving_tokens_and_time_to_answer_within_the_bound()
    {
        var row = Evaluate(ConfidenceTrajectory.Falling);

        Assert.True(row.SplitsWithAbortRules >= 0.9, $"abort rules in {row.SplitsWithAbortRules:P0} of the splits");
        Assert.True(row.TokensSaved >= 0.15, $"tokens saved {row.TokensSaved:P1}");
        Assert.True(row.EscalatedMeanTimeSaved >= 0.25, $"time to answer of escalated requests saved {row.EscalatedMeanTimeSaved:P1}");
        Assert.True(row.AccuracyChange >= -0.01, $"accuracy change {row.AccuracyChange:P2}");
        Assert.True(row.ViolationRate <= 0.1, $"loss > eps in {row.ViolationRate:P1} of the splits");
    }

    [Fact]
    public void Confidence_that_does_not_fall_early_leaves_the_policy_as_it_is_without_early_escalation()
    {
        var row = Evaluate(ConfidenceTrajectory.Flat);

        Assert.Equal(0, row.SplitsWithAbortRules);
        Assert.Equal(0, row.AbortedShare);
        Assert.Equal((row.TokensWithout, row.CostUsdWithout, row.MeanMsWithout), (row.TokensEarly, row.CostUsdEarly, row.MeanMsEarly));
    }

    private static EarlyEscalationRow Evaluate(ConfidenceTrajectory trajectory)
    {
        var traces = SimulatedTraces.Generate([.. Chain.Select(SimulatedModelProfile.For)], 1000, trajectory, topLogprobs: 5, seed: 1).ToList();
        var data = ChainData.FromTokenTraces(traces, Chain, window: 16, minTokens: 32);
        return EarlyEscalationEvaluation.Evaluate(data, splits: 40, epsilon: 0.01, delta: 0.1, seed: 1);
    }
}
