using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;
using Router.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Router.AppHost.Tests;

/// <summary>
/// The whole system under faults, as the AppHost runs it with the response cache on, a 2 s stage
/// timeout and circuits that open after 2 failures: a hung worker (SIGSTOP) costs each request one
/// stage timeout until its circuit opens and then nothing; a flood of invalid requests is refused
/// with 4xx and writes no ledger row while valid requests sent meanwhile are all answered and recorded; a
/// repeated deterministic request is answered from the cache at no cost.
/// </summary>
public sealed class FaultEndToEndTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>
{
    private static readonly TimeSpan StageTimeout = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Hung_workers_trip_their_circuit_invalid_floods_are_refused_and_repeats_come_from_the_cache()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using var appHost = await AppHostProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = null,
            ["ConnectionStrings__ledger"] = ledger,
            ["ResponseCache__Enabled"] = "true",
            ["Routing__StageTimeout"] = StageTimeout.ToString(),
            ["Routing__CircuitFailureThreshold"] = "2",
            ["Routing__CircuitBreakDuration"] = "00:00:05",
        });
        using var http = new HttpClient { BaseAddress = appHost.Gateway, Timeout = TimeSpan.FromSeconds(60) };

        await RepeatsComeFromTheCacheAsync(http);
        await InvalidFloodIsRefusedAsync(http, ledger);
        await HungWorkerTripsItsCircuitAsync(http, ledger, appHost.ServiceProcessId("Worker__Model=llama3.1-8b"));
    }

    private static async Task RepeatsComeFromTheCacheAsync(HttpClient http)
    {
        var question = new { model = "auto", messages = new[] { new { role = "user", content = "What is the capital of Australia?" } } };
        using var first = await http.PostAsJsonAsync("/v1/route", question);
        using var second = await http.PostAsJsonAsync("/v1/route", question);
        using var chat = await http.PostAsJsonAsync("/v1/chat/completions", question);

        Assert.Equal("miss", first.Headers.GetValues("x-router-cache").Single());
        Assert.Equal("hit", second.Headers.GetValues("x-router-cache").Single());
        Assert.Equal("hit", chat.Headers.GetValues("x-router-cache").Single());
        var paid = await first.Content.ReadFromJsonAsync<JsonElement>();
        var cached = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(paid.GetProperty("answer").GetString(), cached.GetProperty("answer").GetString());
        Assert.Equal(paid.GetProperty("final_model").GetString(), cached.GetProperty("final_model").GetString());
        var attempt = Assert.Single(cached.GetProperty("attempts").EnumerateArray());
        Assert.Equal("response_cache", attempt.GetProperty("reason").GetString());
        Assert.Equal(0m, cached.GetProperty("cost_usd").GetDecimal());
        Assert.Contains(paid.GetProperty("request_id").GetString()!, attempt.GetProperty("reason_text").GetString(), StringComparison.Ordinal);
        var answer = await chat.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(paid.GetProperty("answer").GetString(), answer.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        using var bypass = new HttpRequestMessage(HttpMethod.Post, "/v1/route") { Content = JsonContent.Create(question) };
        bypass.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        using var uncached = await http.SendAsync(bypass);
        Assert.False(uncached.Headers.Contains("x-router-cache"));
        Assert.NotEqual("response_cache", (await uncached.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("attempts")[0].GetProperty("reason").GetString());
    }

    private async Task InvalidFloodIsRefusedAsync(HttpClient http, string ledger)
    {
        var rowsBefore = await SettledLedgerRowsAsync(ledger, minimum: 4);
        var quiet = await ValidLatenciesAsync(http, "quiet", 20);

        string[] invalid =
        [
            "{\"model\": \"auto\", \"messages\": [",
            "{\"model\": \"auto\", \"messages\": []}",
            "{\"model\": \"no-such-model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
            "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 5}",
            "{\"model\": \"auto\", \"messages\": [{\"role\": \"robot\", \"content\": \"hi\"}]}",
            "[1, 2, 3]",
        ];
        var refused = 0;
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        using var flooding = new CancellationTokenSource();
        var flood = Task.WhenAll(Enumerable.Range(0, 16).Select(async loop =>
        {
            // Each caller sends at least 16, so the flood has a known minimum size however fast the valid requests finish.
            for (var i = loop; i < 16 * 16 || !flooding.IsCancellationRequested; i += 16)
            {
                using var response = await http.PostAsync("/v1/chat/completions", new StringContent(invalid[i % invalid.Length], Encoding.UTF8, "application/json"));
                statuses.Add(response.StatusCode);
                Interlocked.Increment(ref refused);
            }
        }));
        await Task.Delay(500);
        var underFlood = await ValidLatenciesAsync(http, "flood", 20);
        await flooding.CancelAsync();
        await flood;

        var quietMedian = Median(quiet);
        var floodMedian = Median(underFlood);
        output.WriteLine($"{refused} invalid requests refused; valid median {quietMedian:F1} ms quiet, {floodMedian:F1} ms under the flood");
        Assert.True(refused > 200, $"only {refused} invalid requests were sent");
        Assert.All(statuses, s => Assert.True((int)s is >= 400 and < 500, $"an invalid request got {(int)s}"));

        Assert.Equal(rowsBefore + quiet.Count + underFlood.Count, await SettledLedgerRowsAsync(ledger, rowsBefore + quiet.Count + underFlood.Count));
    }

    private static async Task HungWorkerTripsItsCircuitAsync(HttpClient http, string ledger, int smallWorker)
    {
        AppHostProcess.Signal("STOP", smallWorker);
        try
        {
            // A client that gives up while its stage hangs still leaves its ledger row, and its
            // cancellation is not held against the worker's circuit.
            using (var impatient = new CancellationTokenSource(TimeSpan.FromMilliseconds(700)))
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
                {
                    Content = JsonContent.Create(new { model = "auto", messages = new[] { new { role = "user", content = "What is 1 + 1? (impatient client)" } } }),
                };
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => http.SendAsync(request, impatient.Token));
            }

            Assert.Equal(1, await CountWhenAsync(ledger, "SELECT count(*) FROM attempts WHERE reason = 'client_disconnected' AND model = 'llama3.1-8b'", 1));
            Assert.Equal(1, await CountWhenAsync(ledger, "SELECT count(*) FROM requests WHERE error LIKE 'The client disconnected%'", 1));

            for (var i = 0; i < 2; i++)
            {
                var clock = Stopwatch.StartNew();
                var trace = await RouteUncachedAsync(http, $"What is {i} + 40? (hung worker)");
                var first = trace.GetProperty("attempts")[0];
                Assert.Equal("llama3.1-8b", first.GetProperty("model").GetString());
                Assert.Equal("stage_failed", first.GetProperty("reason").GetString());
                Assert.Contains("DeadlineExceeded", first.GetProperty("error").GetString(), StringComparison.Ordinal);
                Assert.NotEqual("llama3.1-8b", trace.GetProperty("final_model").GetString());
                Assert.InRange(clock.Elapsed, StageTimeout, StageTimeout * 5);
            }

            var skipped = await RouteUncachedAsync(http, "What is 3 + 40? (circuit open)");
            var skippedStage = skipped.GetProperty("attempts")[0];
            Assert.Equal("circuit_open", skippedStage.GetProperty("reason").GetString());
            Assert.Contains("2 consecutive failures", skippedStage.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.True(skipped.GetProperty("latency_ms").GetDouble() < StageTimeout.TotalMilliseconds, "a request paid for the hung worker after its circuit opened");
            Assert.NotEqual("llama3.1-8b", skipped.GetProperty("final_model").GetString());
        }
        finally
        {
            AppHostProcess.Signal("CONT", smallWorker);
        }

        // After the break, one trial request reaches the recovered worker and closes the circuit.
        await Task.Delay(TimeSpan.FromSeconds(5.5));
        var recovered = await RouteUncachedAsync(http, "What is 4 + 40? (recovered)");
        var trial = recovered.GetProperty("attempts")[0];
        Assert.Equal("llama3.1-8b", trial.GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.Null, trial.GetProperty("error").ValueKind);
    }

    private static async Task<List<double>> ValidLatenciesAsync(HttpClient http, string phase, int count)
    {
        var latencies = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = "auto", messages = new[] { new { role = "user", content = $"Which planet is known as the Red Planet? ({phase} {i})" } } }),
            };
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }

        return latencies;
    }

    private static async Task<JsonElement> RouteUncachedAsync(HttpClient http, string question)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
        {
            Content = JsonContent.Create(new { model = "auto", messages = new[] { new { role = "user", content = question } } }),
        };
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Ledger rows once the count stops changing and has reached <paramref name="minimum"/>.</summary>
    private static async Task<long> SettledLedgerRowsAsync(string ledger, long minimum)
    {
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        long rows = -1, previous;
        do
        {
            previous = rows;
            await Task.Delay(500);
            await using var count = new NpgsqlCommand("SELECT count(*) FROM requests", connection);
            rows = (long)(await count.ExecuteScalarAsync())!;
        }
        while ((rows < minimum || rows != previous) && clock.Elapsed < TimeSpan.FromSeconds(30));

        return rows;
    }

    /// <summary>The query's count once it reaches <paramref name="expected"/>, or after 30 s whatever it is.</summary>
    private static async Task<long> CountWhenAsync(string ledger, string query, long expected)
    {
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        long count;
        do
        {
            await using var command = new NpgsqlCommand(query, connection);
            count = (long)(await command.ExecuteScalarAsync())!;
            if (count >= expected)
            {
                break;
            }

            await Task.Delay(200);
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(30));

        return count;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
