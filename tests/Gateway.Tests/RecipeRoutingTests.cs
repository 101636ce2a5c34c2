using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Domain.Calibration;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Router.Gateway.Control;
using Router.Ledger;
using Router.Testing;
using Router.Testing.OpenAiStub;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// Policies whose first stage trusts P(True) or self-consistency, on real hosts (<see cref="RoutingHosts"/>):
/// the Gateway asks the small model's worker exactly the recipe's extra questions or samples, reads
/// the score through the calibrator of (model, signal) served by Scoring, decides on it, and the
/// extra calls' tokens and cost show in /v1/route's attempts, the route's cost and the ledger rows.
/// </summary>
public sealed class RecipeRoutingTests(RoutingHosts system) : IClassFixture<RoutingHosts>
{
    private const string Verification = "Is the proposed answer correct?";

    /// <summary>The small model's single-token reply to a Yes/No question: P(True) = e^-0.1 / (e^-0.1 + e^-2.5) ~ 0.917.</summary>
    private static readonly IReadOnlyList<StubToken> Yes = [new("Yes", -0.1, [("Yes", -0.1), ("No", -2.5)])];

    [Fact]
    public async Task A_p_true_stage_asks_the_model_to_verify_its_unsure_answer_accepts_it_and_prices_the_call_in_trace_route_and_ledger()
    {
        system.SmallModel.TokensFor = body => body.ToJsonString().Contains(Verification, StringComparison.Ordinal) ? Yes : RoutingHosts.Unsure;
        await StoreAsync(ArtifactKinds.Calibrator, CalibratorArtifact.Name(RoutingHosts.Small, null, SignalNames.PTrue), new CalibratorArtifact(SignalNames.PTrue, new PlattCalibrator(1, -1)).ToJson());
        await StorePolicyAsync("verified", SignalRecipe.Single(SignalNames.PTrue), threshold: 0.7);
        await using var gateway = system.Gateway();
        await WhenCalibratorServedAsync(gateway, SignalNames.PTrue);
        var verifications = VerificationPrompts();

        var trace = await RouteAsync(gateway.CreateClient(), "cascade/verified", "Which planet is red? (unsure)");

        var first = trace.GetProperty("attempts")[0];
        Assert.Equal(("p_true", "accept", RoutingHosts.Small), (first.GetProperty("recipe").GetString(), first.GetProperty("decision").GetString(), trace.GetProperty("final_model").GetString()));
        var pTrue = Math.Exp(-0.1) / (Math.Exp(-0.1) + Math.Exp(-2.5));
        Assert.Equal(pTrue, first.GetProperty("signals").GetProperty("p_true").GetDouble(), 6);
        Assert.Equal(Calibrator.Sigmoid(Calibrator.Logit(pTrue) - 1), first.GetProperty("confidence").GetDouble(), 6);
        Assert.Equal($"{RoutingHosts.Small}#p_true@1", first.GetProperty("calibrator_version").GetString());
        Assert.Equal(verifications + 1, VerificationPrompts());

        var call = Assert.Single(first.GetProperty("extra_calls").EnumerateArray());
        Assert.Equal((ExtraCallKinds.SelfVerification, 1, system.SmallModel.PromptTokens, 1), (call.GetProperty("kind").GetString(), call.GetProperty("calls").GetInt32(), call.GetProperty("prompt_tokens").GetInt32(), call.GetProperty("completion_tokens").GetInt32()));
        var extraCost = 0.18m * (system.SmallModel.PromptTokens + 1) / 1_000_000;
        var answerCost = 0.18m * (first.GetProperty("prompt_tokens").GetInt32() + first.GetProperty("completion_tokens").GetInt32()) / 1_000_000;
        Assert.Equal(extraCost, call.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(answerCost + extraCost, first.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(answerCost + extraCost, trace.GetProperty("cost_usd").GetDecimal());

        var row = await LedgerRowAsync(trace.GetProperty("request_id").GetString()!, 0);
        Assert.Equal(("p_true", system.SmallModel.PromptTokens, 1, extraCost, answerCost + extraCost), (row.Recipe, row.ExtraPromptTokens, row.ExtraCompletionTokens, row.ExtraCostUsd, row.CostUsd));
        var stored = Assert.Single(JsonNode.Parse(row.ExtraCalls)!.AsArray());
        Assert.Equal((ExtraCallKinds.SelfVerification, 1), (stored!["kind"]!.GetValue<string>(), stored["calls"]!.GetValue<int>()));
    }

    [Fact]
    public async Task A_self_consistency_stage_samples_m_answers_escalates_when_they_disagree_and_the_samples_are_priced_in_the_ledger()
    {
        // The sampled answers (each with a seed of its own) say B; the answer itself says C.
        system.SmallModel.TokensFor = body => body["seed"] is not null ? RoutingHosts.Confident : RoutingHosts.Unsure;
        await StorePolicyAsync("consistent", SignalRecipe.Single(SignalNames.Agreement, samples: 3), threshold: 0.5);
        await using var gateway = system.Gateway();
        var sampled = system.SmallModel.Requests.Count(r => r["seed"] is not null);

        var trace = await RouteAsync(gateway.CreateClient(), "cascade/consistent", "Which planet is red? (sampled)");

        var attempts = trace.GetProperty("attempts");
        Assert.Equal(("agreement[m=3]", "escalate", 0.0), (attempts[0].GetProperty("recipe").GetString(), attempts[0].GetProperty("decision").GetString(), attempts[0].GetProperty("signals").GetProperty("agreement").GetDouble()));
        Assert.Equal(RoutingHosts.Large, trace.GetProperty("final_model").GetString());
        var seeds = system.SmallModel.Requests.Where(r => r["seed"] is not null).Skip(sampled).Select(r => (r["seed"]!.GetValue<long>(), r["temperature"]!.GetValue<double>())).ToList();
        Assert.Equal(3, seeds.Select(s => s.Item1).Distinct().Count());
        Assert.All(seeds, s => Assert.Equal(SignalRecipe.DefaultSampleTemperature, s.Item2, 6));

        // The last stage decides nothing, so it pays for no samples.
        Assert.Empty(attempts[1].GetProperty("extra_calls").EnumerateArray());
        var call = Assert.Single(attempts[0].GetProperty("extra_calls").EnumerateArray());
        var sampleTokens = RoutingHosts.Confident.Count;
        Assert.Equal((ExtraCallKinds.Sample, 3, 3 * system.SmallModel.PromptTokens, 3 * sampleTokens), (call.GetProperty("kind").GetString(), call.GetProperty("calls").GetInt32(), call.GetProperty("prompt_tokens").GetInt32(), call.GetProperty("completion_tokens").GetInt32()));
        var extraCost = 0.18m * 3 * (system.SmallModel.PromptTokens + sampleTokens) / 1_000_000;
        Assert.Equal(attempts.EnumerateArray().Sum(a => a.GetProperty("cost_usd").GetDecimal()), trace.GetProperty("cost_usd").GetDecimal());

        var row = await LedgerRowAsync(trace.GetProperty("request_id").GetString()!, 0);
        Assert.Equal(("agreement[m=3]", 3 * system.SmallModel.PromptTokens, 3 * sampleTokens, extraCost), (row.Recipe, row.ExtraPromptTokens, row.ExtraCompletionTokens, row.ExtraCostUsd));
        Assert.Equal(attempts[0].GetProperty("cost_usd").GetDecimal(), row.CostUsd);
        var last = await LedgerRowAsync(trace.GetProperty("request_id").GetString()!, 1);
        Assert.Equal(("mean_logprob", 0, 0m, "[]"), (last.Recipe, last.ExtraPromptTokens, last.ExtraCostUsd, last.ExtraCalls));
    }

    [Fact]
    public async Task A_p_ik_stage_asks_first_and_escalates_without_generating_when_the_model_does_not_know_paying_only_the_question()
    {
        // "Do you know?" gets No for questions marked (stumped) and Yes otherwise; the answers themselves are confident.
        IReadOnlyList<StubToken> no = [new("No", -0.1, [("No", -0.1), ("Yes", -2.5)])];
        system.SmallModel.TokensFor = body => body.ToJsonString() is var json && ExtraCallPrompts.IsDoYouKnow(json)
            ? (json.Contains("(stumped)", StringComparison.Ordinal) ? no : Yes)
            : RoutingHosts.Confident;
        await StorePolicyAsync("knows", SignalRecipe.Single(SignalNames.PIk), threshold: 0.5);
        await using var gateway = system.Gateway();
        using var client = gateway.CreateClient();
        var answers = Answers();

        var stumped = await RouteAsync(client, "cascade/knows", "Which planet is red? (stumped)");
        var answersWhenStumped = Answers() - answers;
        var known = await RouteAsync(client, "cascade/knows", "Which planet is red? (known)");

        var declined = stumped.GetProperty("attempts")[0];
        Assert.Equal(0, answersWhenStumped);
        Assert.Equal(("p_ik", "escalate", 0, 0), (declined.GetProperty("recipe").GetString(), declined.GetProperty("decision").GetString(), declined.GetProperty("prompt_tokens").GetInt32(), declined.GetProperty("completion_tokens").GetInt32()));
        Assert.Equal(Math.Exp(-2.5), declined.GetProperty("confidence").GetDouble(), 6);
        var question = Assert.Single(declined.GetProperty("extra_calls").EnumerateArray());
        Assert.Equal((ExtraCallKinds.DoYouKnow, 1), (question.GetProperty("kind").GetString(), question.GetProperty("calls").GetInt32()));
        Assert.Equal(question.GetProperty("cost_usd").GetDecimal(), declined.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(RoutingHosts.Large, stumped.GetProperty("final_model").GetString());
        var row = await LedgerRowAsync(stumped.GetProperty("request_id").GetString()!, 0);
        Assert.Equal(("p_ik", question.GetProperty("cost_usd").GetDecimal()), (row.Recipe, row.CostUsd));

        var accepted = known.GetProperty("attempts")[0];
        Assert.Equal(("accept", RoutingHosts.Small), (accepted.GetProperty("decision").GetString(), known.GetProperty("final_model").GetString()));
        Assert.Single(accepted.GetProperty("extra_calls").EnumerateArray());
        Assert.True(accepted.GetProperty("completion_tokens").GetInt32() > 0);
    }

    /// <summary>The small model's requests that asked for an answer, not a recipe's question.</summary>
    private int Answers() => system.SmallModel.Requests.Count(r => !ExtraCallPrompts.IsDoYouKnow(r.ToJsonString()) && !r.ToJsonString().Contains(Verification, StringComparison.Ordinal));

    private int VerificationPrompts() => system.SmallModel.Requests.Count(r => r.ToJsonString().Contains(Verification, StringComparison.Ordinal));

    private async Task StorePolicyAsync(string name, SignalRecipe firstStage, double threshold)
    {
        var artifact = new PolicyArtifact([RoutingHosts.Small, RoutingHosts.Large], [threshold], "calibrated", null, "test", null, null, null)
        {
            Recipes = [firstStage, SignalRecipe.Default],
        };
        var version = await StoreAsync(ArtifactKinds.Policy, name, artifact.ToJson());
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                return (await system.Policy.DescribeAsync(new Router.Contracts.DescribePolicyRequest { Policy = name })).Version == version;
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.NotFound)
            {
                return false;
            }
        });
    }

    private async Task<int> StoreAsync(string kind, string name, string payload)
    {
        await using var provider = new ServiceCollection().AddLedger(system.Ledger).BuildServiceProvider();
        return (await provider.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(kind, name, payload, "{}")).Version;
    }

    /// <summary>Waits until Scoring has loaded the calibrator and the Gateway's catalog has read it from Scoring.</summary>
    private static async Task WhenCalibratorServedAsync(GatewayFactory gateway, string signal)
    {
        var catalog = gateway.Services.GetRequiredService<CalibratorCatalog>();
        await Eventually.UntilAsync(async () =>
        {
            await catalog.RefreshAsync(CancellationToken.None);
            return catalog.Find(RoutingHosts.Small, null, signal) is not null;
        });
    }

    private async Task<AttemptRow> LedgerRowAsync(string requestId, int attempt)
    {
        await using var connection = new NpgsqlConnection(system.Ledger);
        await connection.OpenAsync();
        AttemptRow? row = null;
        await Eventually.UntilAsync(async () =>
        {
            await using var command = new NpgsqlCommand("SELECT recipe, extra_prompt_tokens, extra_completion_tokens, extra_cost_usd, cost_usd, extra_calls::text FROM attempts WHERE request_id = @id AND attempt = @attempt", connection);
            command.Parameters.AddWithValue("id", requestId);
            command.Parameters.AddWithValue("attempt", attempt);
            await using var reader = await command.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                row = new AttemptRow(reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetDecimal(3), reader.GetDecimal(4), reader.GetString(5));
            }

            return row is not null;
        });
        return row!;
    }

    private static async Task<JsonElement> RouteAsync(HttpClient client, string model, string question)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
        {
            Content = JsonContent.Create(new { model, messages = new[] { new { role = "user", content = question } } }),
        };
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private sealed record AttemptRow(string? Recipe, int ExtraPromptTokens, int ExtraCompletionTokens, decimal ExtraCostUsd, decimal CostUsd, string ExtraCalls);
}
