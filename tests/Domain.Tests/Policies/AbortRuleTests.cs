using Router.Domain.Policies;
using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Policies;

public sealed class AbortRuleTests
{
    [Fact]
    public void Fires_once_the_group_confidence_is_below_the_threshold_and_not_before_the_minimum_tokens()
    {
        var rule = new AbortRule(Threshold: 2.0, MinTokens: 3, Window: 2, TopLogprobs: 2);
        var monitor = rule.NewMonitor();

        // C = 1 from the first token on: the group is below 2 at once, but only the third token may fire.
        monitor.Observe(-1, [-1, -1]);
        Assert.False(rule.ShouldAbort(monitor));
        monitor.Observe(-1, [-1, -1]);
        Assert.False(rule.ShouldAbort(monitor));
        monitor.Observe(-1, [-1, -1]);
        Assert.True(rule.ShouldAbort(monitor));
    }

    [Fact]
    public void A_confident_draft_goes_on_and_a_falling_one_is_cut_where_the_window_falls_below()
    {
        var rule = new AbortRule(Threshold: 2.0, MinTokens: 2, Window: 2, TopLogprobs: 2);
        var monitor = rule.NewMonitor();
        var firedAt = 0;
        double[][] tops = [[0, -6], [0, -6], [-0.7, -0.7], [-0.1, -6], [-0.7, -0.7], [-0.7, -0.7]];

        foreach (var top in tops)
        {
            monitor.Observe(top[0], top);
            if (rule.ShouldAbort(monitor))
            {
                firedAt = monitor.Tokens;
                break;
            }
        }

        // Groups: 3, 3, (3 + 0.7) / 2 = 1.85 < 2 at the third token.
        Assert.Equal(3, firedAt);
        Assert.Equal(1.85, monitor.GroupConfidence, 12);
    }

    [Fact]
    public void None_never_fires_and_is_the_rule_of_the_last_stage_and_of_policies_without_rules()
    {
        var monitor = AbortRule.None.NewMonitor();
        for (var i = 0; i < 50; i++)
        {
            monitor.Observe(-20, [-20, -20]);
            Assert.False(AbortRule.None.ShouldAbort(monitor));
        }

        var rule = new AbortRule(2.5, 16, 8, 5);
        var policy = new EscalationPolicy(["small", "medium", "large"], [0.9, 0.9]) { AbortRules = [rule, AbortRule.None] };
        Assert.Equal(rule, policy.AbortRuleFor(0));
        Assert.True(policy.AbortRuleFor(1).IsNone);
        Assert.True(policy.AbortRuleFor(2).IsNone);
        Assert.True(new EscalationPolicy(["small", "large"], [0.9]).AbortRuleFor(0).IsNone);
        Assert.Empty(policy.Problems());
    }

    [Fact]
    public void A_monitor_of_another_window_is_refused()
    {
        var rule = new AbortRule(2.5, 16, 8, 5);

        Assert.Throws<ArgumentException>(() => rule.ShouldAbort(new GroupConfidenceMonitor(16)));
    }

    [Fact]
    public void Malformed_rules_are_named_by_stage_and_field()
    {
        var policy = new EscalationPolicy(["small", "large"], [0.9])
        {
            AbortRules = [new AbortRule(double.NaN, 0, 0, 0), new AbortRule(1, 4, 4, 5)],
        };

        var problems = policy.Problems();

        Assert.Contains(problems, p => p.StartsWith("abortRules: at most 1", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("abortRules:0:threshold", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("abortRules:0:window", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("abortRules:0:minTokens", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("abortRules:0:topLogprobs", StringComparison.Ordinal));
    }

    [Fact]
    public void Abort_rules_round_trip_in_a_policy_artifact_and_payloads_without_them_still_load()
    {
        var artifact = new PolicyArtifact(["small", "large"], [0.8], "raw", new PolicyTarget(0.01, 0.1), "risk-bounded", 0.009, -0.002, 0.4)
        {
            AbortRules = [new AbortRule(2.25, 32, 16, 5)],
        };

        var again = PolicyArtifact.FromJson(artifact.ToJson());
        const string Old = """{"chain":["small","large"],"thresholds":[0.8],"confidenceScale":"raw","target":null,"method":"configured","riskBound":null,"accuracyChangeOnFit":null,"costSavedOnFit":null}""";
        var old = PolicyArtifact.FromJson(Old);

        Assert.Contains("\"abortRules\":[{\"threshold\":2.25,\"minTokens\":32,\"window\":16,\"topLogprobs\":5}]", artifact.ToJson(), StringComparison.Ordinal);
        Assert.Equal(artifact.AbortRules, again.AbortRules);
        Assert.Equal(new AbortRule(2.25, 32, 16, 5), again.ToPolicy().AbortRuleFor(0));
        Assert.Null(old.AbortRules);
        Assert.True(old.ToPolicy().AbortRuleFor(0).IsNone);
    }
}
