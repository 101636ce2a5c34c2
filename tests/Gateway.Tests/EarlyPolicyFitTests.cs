using Microsoft.Extensions.DependencyInjection;
using Router.Domain.Policies;
using Router.Ledger;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>`router policy fit` on token-level traces stores a policy version whose draft stage has an abort rule, as the Gateway reads it.</summary>
public sealed class EarlyPolicyFitTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Token_level_traces_whose_wrong_drafts_lose_confidence_give_the_stored_policy_an_abort_rule_on_its_draft_stage()
    {
        var ledger = await postgres.CreateDatabaseAsync("early");
        var directory = Directory.CreateDirectory(Path.Combine(TestState.Directory, $"early-{Guid.NewGuid():N}")).FullName;
        try
        {
            var traces = Path.Combine(directory, "falling.jsonl");
            var simulated = await RouterCli.RunAsync("traces", "simulate", "--models", "llama3.1-70b,gpt-4o", "--questions", "600", "--out", traces);
            Assert.True(simulated.ExitCode == 0, simulated.Output);

            var fitted = await RouterCli.RunAsync("policy", "fit", traces, "--benchmark", "reasoning", "--chain", "llama3.1-70b>gpt-4o", "--eps", "0.01", "--name", "early", "--connection", ledger);
            var refused = await RouterCli.RunAsync("policy", "fit", traces, "--benchmark", "reasoning", "--chain", "llama3.1-70b>gpt-4o", "--budget-usd-per-1k", "1", "--name", "early", "--connection", ledger);

            Assert.True(fitted.ExitCode == 0, fitted.Output);
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("--eps", refused.Output, StringComparison.Ordinal);
            await using var provider = new ServiceCollection().AddLedger(ledger).BuildServiceProvider();
            var stored = await provider.GetRequiredService<ArtifactStore>().GetLatestAsync(ArtifactKinds.Policy, "early");
            var policy = PolicyArtifact.FromJson(stored!.Payload);
            Assert.Equal(1, stored.Version);
            Assert.Equal(["llama3.1-70b", "gpt-4o"], policy.Chain);
            var rule = Assert.Single(policy.AbortRules!);
            Assert.True(rule.Threshold > 0, fitted.Output);
            Assert.Equal((16, 32), (rule.Window, rule.MinTokens));
            Assert.Empty(AbortRule.Problems(policy.AbortRules, policy.Chain.Count));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
