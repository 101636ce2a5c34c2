using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Router.Domain.Policies;
using Router.Ledger;
using Router.Testing.OpenAiStub;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// The request path on real hosts in one process (<see cref="RoutingHosts"/>): accepting and
/// escalating, streaming (and a stream that breaks), every degradation, a policy version stored
/// while a request runs, the circuit breaker's trial, and a client that leaves.
/// </summary>
public sealed class RoutingTierTests(RoutingHosts system) : IClassFixture<RoutingHosts>
{
    private const string Dead = "http://127.0.0.1:9";

    [Fact]
    public async Task A_confident_answer_is_accepted_at_the_small_model_and_an_unsure_one_escalates_both_recorded()
    {
        await using var gateway = system.Gateway();
        using var client = gateway.CreateClient();

        var confident = await RouteAsync(client, "Which planet is red?");
        var unsure = await RouteAsync(client, "Which planet is red? (unsure)");

        var accepted = confident.GetProperty("attempts")[0];
        Assert.Equal(("accept", "confidence_above_threshold"), (accepted.GetProperty("decision").GetString(), accepted.GetProperty("reason").GetString()));
        Assert.Equal(RoutingHosts.Small, confident.GetProperty("final_model").GetString());
        Assert.Equal("0", confident.GetProperty("policy_version").GetString());
        Assert.False(accepted.GetProperty("calibrated").GetBoolean());
        Assert.True(accepted.GetProperty("signals").GetProperty("mean_logprob").GetDouble() > -0.1);
        Assert.All(["policy", "worker", "scoring"], hop => Assert.True(confident.GetProperty("hops_ms").TryGetProperty(hop, out _), hop));

        var escalated = unsure.GetProperty("attempts");
        Assert.Equal(("escalate", "confidence_below_threshold", true), (escalated[0].GetProperty("decision").GetString(), escalated[0].GetProperty("reason").GetString(), escalated[0].GetProperty("discarded").GetBoolean()));
        Assert.Equal(RoutingHosts.Threshold, escalated[0].GetProperty("threshold").GetDouble());
        Assert.Equal(("accept", "last_stage"), (escalated[1].GetProperty("decision").GetString(), escalated[1].GetProperty("reason").GetString()));
        Assert.Equal(escalated.EnumerateArray().Sum(a => a.GetProperty("cost_usd").GetDecimal()), unsure.GetProperty("cost_usd").GetDecimal());

        var id = unsure.GetProperty("request_id").GetString();
        Assert.Equal(1, await WhenAsync($"SELECT count(*) FROM attempts WHERE request_id = '{id}' AND reason = 'confidence_below_threshold' AND decision = 'escalate'", 1));
    }

    [Fact]
    public async Task A_stream_carries_only_the_accepted_stage_and_a_live_stream_that_breaks_ends_with_an_error_event_and_a_ledger_row()
    {
        await using var gateway = system.Gateway();
        using var client = gateway.CreateClient();

        var events = await StreamAsync(client, "Which planet is red? (unsure)");
        Assert.Equal("Answer: B", Content(events));
        Assert.Equal(RoutingHosts.Large, events[^1].GetProperty("router").GetProperty("model_used").GetString());

        system.LargeModel.Enqueue(new StubBehaviour.BreakAfter(1));
        var broken = await StreamAsync(client, "Which planet is red? (unsure) (broken)");
        Assert.True(broken[^1].TryGetProperty("error", out var error), string.Join("\n", broken));
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        var id = broken[0].GetProperty("id").GetString();
        Assert.Equal(1, await WhenAsync($"SELECT count(*) FROM requests WHERE id = '{id}' AND error LIKE 'The answer''s stream broke%'", 1));
    }

    [Fact]
    public async Task Each_unreachable_dependency_degrades_the_route_and_the_trace_says_why()
    {
        await using (var noPolicy = system.Gateway(new Dictionary<string, string?> { ["services:policy:grpc:0"] = Dead }))
        {
            var trace = await RouteAsync(noPolicy.CreateClient(), "Which planet is red? (no policy)");
            Assert.Contains(trace.GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("policy_unavailable", StringComparison.Ordinal));
            Assert.Equal("policy_unavailable", trace.GetProperty("attempts")[0].GetProperty("reason").GetString());
            Assert.Equal(RoutingHosts.Large, trace.GetProperty("final_model").GetString());
        }

        await using (var noScoring = system.Gateway(new Dictionary<string, string?> { ["services:scoring:grpc:0"] = Dead }))
        {
            var trace = await RouteAsync(noScoring.CreateClient(), "Which planet is red? (no scoring)");
            var attempt = trace.GetProperty("attempts")[0];
            Assert.False(attempt.GetProperty("calibrated").GetBoolean());
            Assert.Contains("uncalibrated", attempt.GetProperty("reason_text").GetString(), StringComparison.Ordinal);
        }

        await using (var noClassifier = system.Gateway(new Dictionary<string, string?> { ["services:classifier:grpc:0"] = Dead }))
        {
            var trace = await RouteAsync(noClassifier.CreateClient(), "Which planet is red? (no classifier)", "hybrid/default");
            Assert.Contains(trace.GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("classifier_unavailable", StringComparison.Ordinal));
            Assert.Equal(RoutingHosts.Small, trace.GetProperty("attempts")[0].GetProperty("model").GetString());
        }

        await using (var withClassifier = system.Gateway())
        {
            var trace = await RouteAsync(withClassifier.CreateClient(), "Which planet is red? (classified)", "hybrid/default");
            Assert.False(trace.GetProperty("pre_call").GetProperty("fallback").GetBoolean());
            Assert.Equal(2, trace.GetProperty("pre_call").GetProperty("probability_correct").EnumerateObject().Count());
        }

        await using (var noSmallWorker = system.Gateway(new Dictionary<string, string?> { ["services:worker-llama3-1-8b:grpc:0"] = Dead }))
        {
            var trace = await RouteAsync(noSmallWorker.CreateClient(), "Which planet is red? (small worker down)");
            Assert.Equal("stage_failed", trace.GetProperty("attempts")[0].GetProperty("reason").GetString());
            Assert.Equal(RoutingHosts.Large, trace.GetProperty("final_model").GetString());
        }

        await using (var noWorkers = system.Gateway(new Dictionary<string, string?> { ["services:worker-llama3-1-8b:grpc:0"] = Dead, ["services:worker-gpt-4o:grpc:0"] = Dead }))
        {
            using var response = await noWorkers.CreateClient().PostAsJsonAsync("/v1/route", Question("Which planet is red? (no workers)"));
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            var id = response.Headers.GetValues("x-router-request-id").Single();
            Assert.Equal("all_stages_failed", (await ErrorAsync(response)).GetProperty("code").GetString());
            Assert.Equal(1, await WhenAsync($"SELECT count(*) FROM requests WHERE id = '{id}' AND error IS NOT NULL", 1));
        }
    }

    [Fact]
    public async Task A_prompt_no_model_can_take_is_the_callers_400_and_a_frozen_redis_is_skipped_and_named_on_health()
    {
        await using var gateway = system.Gateway(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = "127.0.0.1:9,abortConnect=false,connectTimeout=200",
            ["ResponseCache:Enabled"] = "true",
            ["Routing:CircuitFailureThreshold"] = "2",
        });
        using var client = gateway.CreateClient();

        using var tooLong = await client.PostAsJsonAsync("/v1/route", Question(new string('x', 40_000)));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("context_length_exceeded", (await ErrorAsync(tooLong)).GetProperty("code").GetString());

        for (var i = 0; i < 3; i++)
        {
            var trace = await RouteAsync(client, $"What is {i} + 1? (no redis)", cache: true);
            Assert.Equal("miss", trace.GetProperty("cache").GetString());
        }

        using var health = await client.GetAsync("/health");
        var dependencies = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("dependencies");
        Assert.Equal("Degraded", dependencies.GetProperty("status").GetString());
        Assert.Contains("cache skipped until", dependencies.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_keeps_the_policy_version_it_was_planned_with_when_a_new_one_is_stored_meanwhile()
    {
        await StorePolicyAsync("pinned", 0.5);
        await using var gateway = system.Gateway();
        using var client = gateway.CreateClient();
        Assert.Equal("1", (await RouteAsync(client, "Which planet is red? (warm)", "cascade/pinned")).GetProperty("policy_version").GetString());

        var held = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        system.SmallModel.Enqueue(new StubBehaviour.Hold(held, release.Task));
        var planned = RouteAsync(client, "Which planet is red? (held)", "cascade/pinned");
        await held.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Version 2 accepts nothing at the small model; the Gateway picks it up in the background.
        await StorePolicyAsync("pinned", 0.999);
        JsonElement later;
        do
        {
            later = await RouteAsync(client, $"Which planet is red? (after v2 {Guid.NewGuid()})", "cascade/pinned");
        }
        while (later.GetProperty("policy_version").GetString() != "2");

        release.SetResult();
        var pinned = await planned;
        Assert.Equal("1", pinned.GetProperty("policy_version").GetString());
        Assert.Equal("confidence_above_threshold", pinned.GetProperty("attempts")[0].GetProperty("reason").GetString());
        Assert.Equal("confidence_below_threshold", later.GetProperty("attempts")[0].GetProperty("reason").GetString());
        var id = pinned.GetProperty("request_id").GetString();
        Assert.Equal(1, await WhenAsync($"SELECT count(*) FROM requests WHERE id = '{id}' AND policy_version = '1'", 1));
    }

    [Fact]
    public async Task A_failing_worker_opens_its_circuit_one_trial_after_the_break_closes_it_and_a_client_that_leaves_is_recorded()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = system.Gateway(
            new Dictionary<string, string?> { ["Routing:CircuitFailureThreshold"] = "2", ["Routing:CircuitBreakDuration"] = "00:00:30" },
            services => services.AddSingleton<TimeProvider>(time));
        using var client = gateway.CreateClient();

        system.SmallModel.Enqueue(new StubBehaviour.Fail(503, "overloaded"), new StubBehaviour.Fail(503, "overloaded"));
        Assert.Equal("stage_failed", FirstReason(await RouteAsync(client, "What is 1 + 1? (failing)")));
        Assert.Equal("stage_failed", FirstReason(await RouteAsync(client, "What is 2 + 1? (failing)")));
        var requestsBefore = system.SmallModel.Requests.Count;
        Assert.Equal("circuit_open", FirstReason(await RouteAsync(client, "What is 3 + 1? (open)")));
        Assert.Equal(requestsBefore, system.SmallModel.Requests.Count);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("confidence_above_threshold", FirstReason(await RouteAsync(client, "What is 4 + 1? (trial)")));
        Assert.Equal("confidence_above_threshold", FirstReason(await RouteAsync(client, "What is 5 + 1? (closed)")));

        var held = new TaskCompletionSource();
        system.SmallModel.Enqueue(new StubBehaviour.Hold(held, Task.Delay(Timeout.Infinite)));
        var aborted = system.SmallModel.AbortedRequests;
        using var leaving = new CancellationTokenSource();
        var request = client.PostAsJsonAsync("/v1/route", Question("What is 6 + 1? (impatient)"), leaving.Token);
        await held.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        Assert.Equal(1, await WhenAsync("SELECT count(*) FROM attempts WHERE reason = 'client_disconnected' AND request_id IN (SELECT id FROM requests WHERE error LIKE 'The client disconnected%')", 1));
        while (system.SmallModel.AbortedRequests == aborted)
        {
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_draft_whose_group_confidence_falls_is_cancelled_mid_generation_and_the_next_stage_answers_recorded_as_a_paid_attempt()
    {
        // Window 4, at least 4 tokens, below 2: the small model's falling draft is cut at token 9 of 20.
        await StorePolicyAsync("early", 0.5, [new AbortRule(2, 4, 4, 5)]);
        await using var gateway = system.Gateway();
        using var client = gateway.CreateClient();

        var aborted = system.SmallModel.AbortedRequests;
        system.SmallModel.Enqueue(new StubBehaviour.StreamThenWait(12));
        var trace = await RouteAsync(client, "Which planet is red? (falling)", "cascade/early");
        var draft = trace.GetProperty("attempts")[0];
        Assert.Equal(("escalate", "low_group_confidence", true), (draft.GetProperty("decision").GetString(), draft.GetProperty("reason").GetString(), draft.GetProperty("discarded").GetBoolean()));
        Assert.Equal((9, 9), (draft.GetProperty("aborted_at_token").GetInt32(), draft.GetProperty("completion_tokens").GetInt32()));
        Assert.Equal((4.755 + (3 * 0.75)) / 4, draft.GetProperty("abort_group_confidence").GetDouble(), 9);
        Assert.True(draft.GetProperty("cost_usd").GetDecimal() > 0);
        Assert.Equal(("accept", "last_stage"), (trace.GetProperty("attempts")[1].GetProperty("decision").GetString(), trace.GetProperty("attempts")[1].GetProperty("reason").GetString()));
        Assert.Equal((RoutingHosts.Large, "Answer: B"), (trace.GetProperty("final_model").GetString(), trace.GetProperty("answer").GetString()));
        var id = trace.GetProperty("request_id").GetString();
        Assert.Equal(1, await WhenAsync($"SELECT count(*) FROM attempts WHERE request_id = '{id}' AND attempt = 0 AND reason = 'low_group_confidence' AND completion_tokens = 9 AND aborted_at_token = 9 AND cost_usd > 0 AND abort_group_confidence < 2", 1));
        Assert.Equal(1, await system.CountAsync($"SELECT count(*) FROM requests WHERE id = '{id}' AND cost_usd = (SELECT sum(cost_usd) FROM attempts WHERE request_id = '{id}')"));

        // The worker cancelled the backend request, which had more tokens to send.
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (system.SmallModel.AbortedRequests == aborted)
        {
            await Task.Delay(20, patience.Token);
        }

        system.SmallModel.Enqueue(new StubBehaviour.StreamThenWait(12));
        var events = await StreamAsync(client, "Which planet is red? (falling) (streamed)", "cascade/early");
        Assert.Equal("Answer: B", Content(events));
        Assert.Equal(RoutingHosts.Large, events[^1].GetProperty("router").GetProperty("model_used").GetString());
    }

    [Fact]
    public async Task Workers_in_the_Gateways_process_accept_escalate_stream_and_cancel_a_falling_draft_as_worker_processes_do()
    {
        await StorePolicyAsync("early-in-process", 0.5, [new AbortRule(2, 4, 4, 5)]);
        await using var gateway = system.Gateway(system.InProcessWorkers());
        using var client = gateway.CreateClient();

        var confident = await RouteAsync(client, "Which planet is red? (in-process)");
        Assert.Equal(("accept", "confidence_above_threshold"), (confident.GetProperty("attempts")[0].GetProperty("decision").GetString(), FirstReason(confident)));
        Assert.Equal(RoutingHosts.Small, confident.GetProperty("final_model").GetString());
        Assert.True(confident.GetProperty("hops_ms").TryGetProperty("worker", out _));

        var unsure = await RouteAsync(client, "Which planet is red? (unsure) (in-process)");
        Assert.Equal(("confidence_below_threshold", RoutingHosts.Large), (FirstReason(unsure), unsure.GetProperty("final_model").GetString()));
        Assert.Equal(unsure.GetProperty("attempts").EnumerateArray().Sum(a => a.GetProperty("cost_usd").GetDecimal()), unsure.GetProperty("cost_usd").GetDecimal());

        var events = await StreamAsync(client, "Which planet is red? (unsure) (in-process) (streamed)");
        Assert.Equal("Answer: B", Content(events));
        Assert.Equal(RoutingHosts.Large, events[^1].GetProperty("router").GetProperty("model_used").GetString());

        var aborted = system.SmallModel.AbortedRequests;
        system.SmallModel.Enqueue(new StubBehaviour.StreamThenWait(12));
        var draft = await RouteAsync(client, "Which planet is red? (falling) (in-process)", "cascade/early-in-process");
        Assert.Equal(("low_group_confidence", 9), (FirstReason(draft), draft.GetProperty("attempts")[0].GetProperty("aborted_at_token").GetInt32()));
        Assert.Equal(RoutingHosts.Large, draft.GetProperty("final_model").GetString());
        await Router.Testing.Eventually.UntilAsync(() => system.SmallModel.AbortedRequests > aborted, "the in-process worker did not cancel the falling draft's backend request");

        var id = unsure.GetProperty("request_id").GetString();
        Assert.Equal(2, await WhenAsync($"SELECT count(*) FROM attempts WHERE request_id = '{id}'", 2));
        using var health = await client.GetAsync("/health");
        var workers = (await health.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("workers");
        Assert.Equal("Healthy", workers.GetProperty("status").GetString());
    }

    /// <summary>Stores a new version and waits until the Policy service serves it.</summary>
    private async Task StorePolicyAsync(string name, double threshold, IReadOnlyList<AbortRule>? abortRules = null)
    {
        await using var provider = new ServiceCollection().AddLedger(system.Ledger).BuildServiceProvider();
        var artifact = new PolicyArtifact([RoutingHosts.Small, RoutingHosts.Large], [threshold], "calibrated", null, "test", null, null, null) { AbortRules = abortRules };
        var stored = await provider.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Policy, name, artifact.ToJson(), "{}");
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                if ((await system.Policy.DescribeAsync(new Router.Contracts.DescribePolicyRequest { Policy = name }, cancellationToken: patience.Token)).Version == stored.Version)
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.NotFound)
            {
            }

            await Task.Delay(50, patience.Token);
        }
    }

    private async Task<long> WhenAsync(string sql, long expected)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long count;
        while ((count = await system.CountAsync(sql)) < expected && !patience.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None);
        }

        return count;
    }

    private static string? FirstReason(JsonElement trace) => trace.GetProperty("attempts")[0].GetProperty("reason").GetString();

    private static object Question(string content, string model = "auto") => new { model, messages = new[] { new { role = "user", content } } };

    private static async Task<JsonElement> RouteAsync(HttpClient client, string question, string model = "auto", bool cache = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route") { Content = JsonContent.Create(Question(question, model)) };
        if (!cache)
        {
            request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        }

        using var response = await client.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var body = JsonDocument.Parse(bytes).RootElement.Clone();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        return body;
    }

    private static string Content(List<JsonElement> events) =>
        string.Concat(events.Where(e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0)
            .Select(e => e.GetProperty("choices")[0].GetProperty("delta")).Where(d => d.TryGetProperty("content", out _)).Select(d => d.GetProperty("content").GetString()));

    private static async Task<List<JsonElement>> StreamAsync(HttpClient client, string question, string model = "auto")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model, stream = true, messages = new[] { new { role = "user", content = question } } }), Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new List<JsonElement>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line != "data: [DONE]")
            {
                events.Add(JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
            }
        }

        return events;
    }

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
}
