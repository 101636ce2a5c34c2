using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;
using Router.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Router.AppHost.Tests;

/// <summary>
/// The whole system as the AppHost runs it, started once through Aspire.Hosting.Testing: every
/// resource healthy, requests escalating when the small model is unsure and not when it is sure,
/// every request in the ledger once, repeats from the response cache, floods of invalid requests
/// refused without ledger rows, and workers that hang or die.
/// </summary>
[TestCaseOrderer(DeclarationOrder.TypeName, DeclarationOrder.AssemblyName)]
public sealed class RoutingSystemTests(RouterApp router, ITestOutputHelper output) : IClassFixture<RouterApp>
{
    private const string SmallWorker = "worker-llama3-1-8b";

    [Fact]
    public async Task Every_resource_is_healthy_requests_route_by_confidence_and_all_land_in_the_ledger_once()
    {
        foreach (var name in router.ServiceResources())
        {
            Assert.True(router.App.ResourceNotifications.TryGetCurrentState(name, out var state), $"no state for {name}");
            Assert.Equal(KnownResourceStates.Running, state.Snapshot.State?.Text);
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, state.Snapshot.HealthStatus);
        }

        Assert.True(router.App.ResourceNotifications.TryGetCurrentState("ledger-migrations", out var migrations));
        Assert.Equal(KnownResourceStates.Finished, migrations.Snapshot.State?.Text);
        Assert.Equal(0, migrations.Snapshot.ExitCode);

        using var http = router.Gateway();
        var requestsBefore = await router.CountAsync("SELECT count(*) FROM requests");
        var questions = Router.InferenceWorker.Simulation.QuestionSet.Default.Questions.Take(20).ToList();
        var traces = new List<JsonElement>();
        foreach (var question in questions)
        {
            traces.Add(await RouteAsync(http, question.Prompt));
        }

        var first = traces.Select(t => t.GetProperty("attempts")[0]).ToList();
        var escalated = first.Where(a => a.GetProperty("decision").GetString() == "escalate").ToList();
        var accepted = first.Where(a => a.GetProperty("decision").GetString() == "accept").ToList();
        Assert.NotEmpty(escalated);
        Assert.NotEmpty(accepted);
        Assert.All(escalated, a =>
        {
            Assert.Equal("confidence_below_threshold", a.GetProperty("reason").GetString());
            Assert.True(a.GetProperty("confidence").GetDouble() < a.GetProperty("threshold").GetDouble());
            Assert.True(a.GetProperty("discarded").GetBoolean());
        });
        Assert.All(accepted, a =>
        {
            Assert.Equal("confidence_above_threshold", a.GetProperty("reason").GetString());
            Assert.True(a.GetProperty("confidence").GetDouble() >= a.GetProperty("threshold").GetDouble());
        });
        Assert.All(traces, t => Assert.True(t.GetProperty("simulated").GetBoolean()));

        // gpt-4o's worker runs in the Gateway: no process of its own, and it answers when asked by name.
        Assert.DoesNotContain("worker-gpt-4o", router.ServiceResources());
        using var named = await http.PostAsJsonAsync("/v1/chat/completions", new { model = "gpt-4o", messages = new[] { new { role = "user", content = questions[1].Prompt } } });
        Assert.Equal(HttpStatusCode.OK, named.StatusCode);
        Assert.Equal("gpt-4o", named.Headers.GetValues("x-router-model").Single());

        using var chat = await http.PostAsJsonAsync("/v1/chat/completions", Question(questions[0].Prompt + " (chat)"));
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var body = await chat.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("Answer:", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal(chat.Headers.GetValues("x-router-model").Single(), body.GetProperty("router").GetProperty("model_used").GetString());

        var expectedRequests = requestsBefore + questions.Count + 2;
        Assert.Equal(expectedRequests, await router.CountWhenAsync("SELECT count(*) FROM requests", expectedRequests));
        var ids = string.Join(",", traces.Select(t => $"'{t.GetProperty("request_id").GetString()}'"));
        Assert.Equal(
            traces.Sum(t => t.GetProperty("attempts").GetArrayLength()),
            await router.CountAsync($"SELECT count(*) FROM attempts WHERE request_id IN ({ids})"));

        var classifierWaits = await HybridModeStartsSomeQueriesAboveTheCheapestAsync(http, questions.Select(q => q.Prompt));
        await RepeatsComeFromTheCacheAsync(http);
        await InvalidFloodIsRefusedWithoutLedgerRowsAsync(http, validRequests: expectedRequests + classifierWaits + questions.Count + RepeatedRequests);
    }

    [Fact]
    public async Task One_routed_request_is_one_trace_across_the_gateway_the_classifier_and_the_worker()
    {
        using var http = router.Gateway();
        var traceId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
        {
            Content = JsonContent.Create(new { model = "hybrid/default", messages = new[] { new { role = "user", content = "Which gas do plants absorb? A) Oxygen B) Carbon dioxide C) Helium D) Neon (traced)" } } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)).ToLowerInvariant()}-01");
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Scoring and Policy are off the request path: the Gateway scores and decides with the
        // calibrators and policy versions it reads from them in the background (their own traces).
        // Each service exports its spans in its own batches, so the Gateway's server span (the root,
        // which ends last) may arrive after its children: wait for a tree with a single root.
        string[] services = ["gateway", "classifier"];
        HashSet<string> seen = [];
        await WaitUntilAsync(
            () =>
            {
                var received = router.Traces.Spans.Where(s => s.TraceId == traceId).ToList();
                seen = received.Select(s => s.Service).ToHashSet();
                var receivedIds = received.Select(s => s.SpanId).ToHashSet();
                return services.All(seen.Contains) && seen.Any(s => s.StartsWith("worker-", StringComparison.Ordinal))
                    && received.Count(s => !receivedIds.Contains(s.ParentSpanId)) == 1;
            },
            () => $"the trace has spans of {string.Join(", ", seen)} only; {router.Traces.Spans.Count} spans received from {string.Join(", ", router.Traces.Spans.Select(s => s.Service).Distinct())}");

        // Joined: one tree whose only root is the Gateway's server span (its parent is the caller's).
        var spans = router.Traces.Spans.Where(s => s.TraceId == traceId).ToList();
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        var root = Assert.Single(spans, span => !ids.Contains(span.ParentSpanId));
        Assert.Equal("gateway", root.Service);
        output.WriteLine(string.Join(Environment.NewLine, spans.Select(s => $"{s.Service}: {s.Name}")));
    }

    [Fact]
    public async Task A_hung_worker_trips_its_circuit_a_killed_one_fails_over_at_once_and_a_restarted_one_serves_again()
    {
        using var http = router.Gateway();
        var worker = router.ServiceProcess(SmallWorker);
        var grpcPort = RunProcesses.KestrelPort(worker, "grpc");
        RunProcesses.Signal("STOP", worker);
        try
        {
            // A client that gives up while its stage hangs still leaves its ledger row, and its
            // cancellation is not held against the worker's circuit.
            using (var impatient = new CancellationTokenSource())
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route") { Content = JsonContent.Create(Question("What is 1 + 1? (impatient client)")) };
                var sent = http.SendAsync(request, impatient.Token);
                await WaitUntilAsync(() => RunProcesses.UnreadBytes(worker, grpcPort) > 0);
                await impatient.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
            }

            Assert.Equal(1, await router.CountWhenAsync("SELECT count(*) FROM attempts WHERE reason = 'client_disconnected' AND model = 'llama3.1-8b'", 1));

            for (var i = 0; i < 2; i++)
            {
                var trace = await RouteAsync(http, $"What is {i} + 40? (hung worker)", cache: false);
                var stage = trace.GetProperty("attempts")[0];
                Assert.Equal("stage_failed", stage.GetProperty("reason").GetString());
                Assert.Contains("DeadlineExceeded", stage.GetProperty("error").GetString(), StringComparison.Ordinal);
                Assert.NotEqual("llama3.1-8b", trace.GetProperty("final_model").GetString());
            }

            var skipped = await RouteAsync(http, "What is 3 + 40? (circuit open)", cache: false);
            var skippedStage = skipped.GetProperty("attempts")[0];
            Assert.Equal("circuit_open", skippedStage.GetProperty("reason").GetString());
            Assert.Contains("2 consecutive failures", skippedStage.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            RunProcesses.Signal("CONT", worker);
        }

        // After the break one trial request reaches the recovered worker and closes the circuit.
        var trial = await FirstStageOnceCircuitAllowsAsync(http, "recovered");
        Assert.Equal(JsonValueKind.Null, trial.GetProperty("error").ValueKind);

        // Killed while a request is in flight (frozen first, so it surely is): the request fails
        // over at once instead of waiting out its stage deadline.
        RunProcesses.Signal("STOP", worker);
        var inFlight = http.PostAsJsonAsync("/v1/route", Question("What is 5 + 40? (killed worker)"));
        await WaitUntilAsync(() => RunProcesses.UnreadBytes(worker, grpcPort) > 0);
        RunProcesses.Signal("KILL", worker);
        using var afterKill = await inFlight;
        Assert.Equal(HttpStatusCode.OK, afterKill.StatusCode);
        var failedOver = await afterKill.Content.ReadFromJsonAsync<JsonElement>();
        var killedStage = failedOver.GetProperty("attempts")[0];
        Assert.Equal("stage_failed", killedStage.GetProperty("reason").GetString());
        Assert.DoesNotContain("DeadlineExceeded", killedStage.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains(SmallWorker, killedStage.GetProperty("error").GetString(), StringComparison.Ordinal);

        // The orchestrator starts it again on request, and the router uses it once it is back.
        using var restarting = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await router.App.ResourceNotifications.WaitForResourceAsync(SmallWorker, [KnownResourceStates.Exited, KnownResourceStates.Finished], restarting.Token);
        var started = await router.App.ResourceCommands.ExecuteCommandAsync(SmallWorker, KnownResourceCommands.StartCommand, restarting.Token);
        Assert.True(started.Success, started.Message);
        await router.App.ResourceNotifications.WaitForResourceHealthyAsync(SmallWorker, restarting.Token);
        var back = await FirstStageOnceCircuitAllowsAsync(http, "restarted");
        Assert.Equal(JsonValueKind.Null, back.GetProperty("error").ValueKind);
    }

    /// <summary>
    /// The default portfolio's classifier predicts where each query starts; some start above the
    /// cheapest model. Returns how many routed requests it sent while waiting for the Classifier.
    /// </summary>
    private static async Task<int> HybridModeStartsSomeQueriesAboveTheCheapestAsync(HttpClient http, IEnumerable<string> prompts)
    {
        // The Classifier's first predictions can outlast the Gateway's Routing:ControlTimeout on a busy
        // machine (the route then starts at the cheapest model, with no pre_call): wait until it answers.
        var waits = 0;
        JsonElement? unpredicted = null;
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    waits++;
                    var trace = await HybridRouteAsync(http, $"Is the Classifier up? ({waits})");
                    unpredicted = trace.GetProperty("pre_call").ValueKind == JsonValueKind.Object ? null : trace;
                    return unpredicted is null;
                },
                patience: TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the Classifier never predicted a hybrid route's start; the last trace: {unpredicted}");
        }

        var starts = new List<string>();
        foreach (var prompt in prompts)
        {
            var trace = await HybridRouteAsync(http, prompt);
            Assert.Equal(JsonValueKind.Object, trace.GetProperty("pre_call").ValueKind);
            var preCall = trace.GetProperty("pre_call");
            Assert.False(preCall.GetProperty("fallback").GetBoolean(), preCall.ToString());
            starts.Add(preCall.GetProperty("start_model").GetString()!);
        }

        Assert.Contains("llama3.1-8b", starts);
        Assert.Contains(starts, start => start != "llama3.1-8b");
        return waits;
    }

    private static async Task<JsonElement> HybridRouteAsync(HttpClient http, string prompt)
    {
        using var response = await http.PostAsJsonAsync("/v1/route", new { model = "hybrid/default", messages = new[] { new { role = "user", content = prompt } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The requests <see cref="RepeatsComeFromTheCacheAsync"/> sends, each one in the ledger (a cache hit too).</summary>
    private const int RepeatedRequests = 3;

    private static async Task RepeatsComeFromTheCacheAsync(HttpClient http)
    {
        var question = Question("What is the capital of Australia?");
        using var first = await http.PostAsJsonAsync("/v1/route", question);
        using var second = await http.PostAsJsonAsync("/v1/route", question);
        Assert.Equal("miss", first.Headers.GetValues("x-router-cache").Single());
        Assert.Equal("hit", second.Headers.GetValues("x-router-cache").Single());
        var paid = await first.Content.ReadFromJsonAsync<JsonElement>();
        var cached = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(paid.GetProperty("answer").GetString(), cached.GetProperty("answer").GetString());
        var attempt = Assert.Single(cached.GetProperty("attempts").EnumerateArray());
        Assert.Equal("response_cache", attempt.GetProperty("reason").GetString());
        Assert.Equal(0m, cached.GetProperty("cost_usd").GetDecimal());
        Assert.Contains(paid.GetProperty("request_id").GetString()!, attempt.GetProperty("reason_text").GetString(), StringComparison.Ordinal);

        var bypassed = await RouteAsync(http, "What is the capital of Australia?", cache: false);
        Assert.NotEqual("response_cache", bypassed.GetProperty("attempts")[0].GetProperty("reason").GetString());
    }

    /// <summary>Sixteen callers send invalid requests of six kinds: every one is a 4xx and none reaches the ledger.</summary>
    private async Task InvalidFloodIsRefusedWithoutLedgerRowsAsync(HttpClient http, long validRequests)
    {
        string[] invalid =
        [
            "{\"model\": \"auto\", \"messages\": [",
            "{\"model\": \"auto\", \"messages\": []}",
            "{\"model\": \"no-such-model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
            "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 5}",
            "{\"model\": \"auto\", \"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}",
            "[1, 2, 3]",
        ];
        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async caller =>
        {
            for (var i = caller; i < 16 * 60; i += 16)
            {
                using var response = await http.PostAsync("/v1/chat/completions", new StringContent(invalid[i % invalid.Length], Encoding.UTF8, "application/json"));
                statuses.Add((int)response.StatusCode);
            }
        }));

        output.WriteLine($"{statuses.Count} invalid requests refused");
        Assert.All(statuses, status => Assert.InRange(status, 400, 499));

        // The journal ships in order, so once a valid request sent after the flood is in the ledger,
        // anything the flood had written would be too: the ledger holds exactly the valid requests.
        var after = (await RouteAsync(http, "Which planet is known as the Red Planet? (after the flood)", cache: false)).GetProperty("request_id").GetString();
        Assert.Equal(1, await router.CountWhenAsync($"SELECT count(*) FROM requests WHERE id = '{after}'", 1));
        Assert.Equal(validRequests + 1, await router.CountAsync("SELECT count(*) FROM requests"));
    }

    /// <summary>Routes requests until one reaches the small model's stage, i.e. its circuit lets a trial through, and returns that stage.</summary>
    private static async Task<JsonElement> FirstStageOnceCircuitAllowsAsync(HttpClient http, string phase)
    {
        using var patience = new CancellationTokenSource(RouterApp.CircuitBreak * 6);
        for (var i = 0; ; i++)
        {
            var stage = (await RouteAsync(http, $"What is {i} + 50? ({phase})", cache: false)).GetProperty("attempts")[0];
            if (stage.GetProperty("reason").GetString() != "circuit_open" || patience.IsCancellationRequested)
            {
                Assert.Equal("llama3.1-8b", stage.GetProperty("model").GetString());
                return stage;
            }

            await Task.Delay(200, CancellationToken.None);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string>? failure = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), failure?.Invoke() ?? "the condition did not hold within 30 s");
            await Task.Delay(50);
        }
    }

    private static object Question(string content) => new { model = "auto", messages = new[] { new { role = "user", content } } };

    private static async Task<JsonElement> RouteAsync(HttpClient http, string question, bool cache = true)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route") { Content = JsonContent.Create(Question(question)) };
        if (!cache)
        {
            request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        }

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
