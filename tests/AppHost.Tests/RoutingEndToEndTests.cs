using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Router.Testing;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>
/// The whole system as the AppHost runs it (simulated workers, Scoring, Policy, Gateway), with the
/// ledger in a PostgreSQL the test can read: requests escalate when the small model is unsure and
/// not when it is sure, the trace says why, and every request lands in the ledger once.
/// </summary>
public sealed class RoutingEndToEndTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task A_chat_completion_escalates_when_the_small_model_is_unsure_and_not_when_it_is_sure()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using var appHost = await AppHostProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = null,
            ["ConnectionStrings__ledger"] = ledger,
        });
        using var http = new HttpClient { BaseAddress = appHost.Gateway };

        var questions = Router.InferenceWorker.Simulation.QuestionSet.Default.Questions.Take(20).ToList();
        var traces = new List<JsonElement>();
        foreach (var question in questions)
        {
            using var response = await http.PostAsJsonAsync("/v1/route", new { model = "auto", messages = new[] { new { role = "user", content = question.Prompt } } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            traces.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).Clone());
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

        using var hybrid = await http.PostAsJsonAsync("/v1/route", new { model = "hybrid/default", messages = new[] { new { role = "user", content = questions[1].Prompt } } });
        var hybridTrace = await hybrid.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("hybrid", hybridTrace.GetProperty("mode").GetString());
        Assert.True(hybridTrace.GetProperty("pre_call").GetProperty("fallback").GetBoolean());
        Assert.Equal("llama3.1-8b", hybridTrace.GetProperty("pre_call").GetProperty("start_model").GetString());

        using var chat = await http.PostAsJsonAsync("/v1/chat/completions", new { model = "auto", messages = new[] { new { role = "user", content = questions[0].Prompt } } });
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var body = await chat.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("Answer:", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Equal(chat.Headers.GetValues("x-router-model").Single(), body.GetProperty("router").GetProperty("model_used").GetString());

        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        long rows;
        do
        {
            await Task.Delay(200);
            await using var count = new NpgsqlCommand("SELECT count(*) FROM requests", connection);
            rows = (long)(await count.ExecuteScalarAsync())!;
        }
        while (rows < questions.Count + 2 && clock.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Equal(questions.Count + 2, rows);
        await using var attempts = new NpgsqlCommand("SELECT count(*) FROM attempts", connection);
        Assert.Equal(traces.Append(hybridTrace).Sum(t => t.GetProperty("attempts").GetArrayLength()) + body.GetProperty("router").GetProperty("stages_tried").GetArrayLength(), (long)(await attempts.ExecuteScalarAsync())!);

        // A worker killed mid-request: the request in flight fails over at once instead of waiting
        // out its 120 s stage deadline, and the trace says why. The worker is frozen first so the
        // request is certainly in flight when it dies.
        var smallWorker = appHost.ServiceProcessId("Worker__Model=llama3.1-8b");
        AppHostProcess.Signal("STOP", smallWorker);
        var failover = Stopwatch.StartNew();
        var inFlight = http.PostAsJsonAsync("/v1/route", new { model = "auto", messages = new[] { new { role = "user", content = questions[2].Prompt } } });
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(inFlight.IsCompleted, "the request finished while its first worker was frozen");
        AppHostProcess.Signal("KILL", smallWorker);
        using var afterKill = await inFlight;
        Assert.True(failover.Elapsed < TimeSpan.FromSeconds(15), $"the request took {failover.Elapsed} to fail over");
        Assert.Equal(HttpStatusCode.OK, afterKill.StatusCode);
        var failedOver = await afterKill.Content.ReadFromJsonAsync<JsonElement>();
        var firstStage = failedOver.GetProperty("attempts")[0];
        Assert.Equal("stage_failed", firstStage.GetProperty("reason").GetString());
        Assert.Contains("worker-llama3-1-8b", firstStage.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.NotEqual("llama3.1-8b", failedOver.GetProperty("final_model").GetString());
    }
}
