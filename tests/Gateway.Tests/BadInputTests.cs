using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Ledger;
using Router.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Router.Gateway.Tests;

/// <summary>
/// Generated hostile requests over every public endpoint of a real Gateway (Kestrel, PostgreSQL,
/// Redis, a simulated worker), in Development and in Production: each is refused with a 4xx in
/// OpenAI's error shape that names no .NET type and holds no stack trace; none reaches the ledger
/// or changes a team or key; and the Gateway is healthy and answers a valid request afterwards.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class BadInputTests(PostgresFixture postgres, RedisFixture redis, ITestOutputHelper output)
{
    private const string AdminKey = "admin-key-for-the-bad-input-suite-0123";
    private const string Team = "suite-team";
    private const int Probes = 600;

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task Generated_bad_input_on_every_endpoint_gets_a_4xx_openai_error_and_changes_nothing(string environment)
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        await using var worker = new SimulatedWorker("llama3.1-8b");
        await using var gateway = new GatewayFactory(
            redis.Server.ConnectionString,
            ledger,
            GatewaySettings.NothingListening(worker.Route, new("Access:Mode", "Keys"), new("Access:AdminKey", AdminKey)),
            environment);
        gateway.StartServer();
        using var client = gateway.CreateClient();
        var teamKey = await TeamKeys.CreateAsync(client, AdminKey, Team);
        var before = await CountsAsync(ledger);

        var statuses = new ConcurrentDictionary<(int Status, string Code), int>();
        await BadInput.Probes(Team).SampleAsync(
            async probe =>
            {
                using var request = probe.ToRequest(teamKey, AdminKey);
                using var response = await client.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                var code = AssertOpenAiClientError(response, body);
                statuses.AddOrUpdate(((int)response.StatusCode, code), 1, (_, n) => n + 1);
            },
            iter: Probes,
            print: probe => probe.ToString());

        foreach (var ((status, code), count) in statuses.OrderBy(s => s.Key))
        {
            output.WriteLine($"{status} {code}: {count}");
        }

        Assert.Equal(Probes, statuses.Values.Sum());
        Assert.Equal(before, await CountsAsync(ledger));

        // Still healthy, and a valid request is answered and recorded: the only row of the run.
        using (var health = await client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var checks = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
            Assert.All(new[] { "cache", "ledger", "ledger-journal" }, check => Assert.Equal("Healthy", checks.GetProperty(check).GetProperty("status").GetString()));
        }

        using var answered = await TeamKeys.SendAsync(client, teamKey, HttpMethod.Post, "/v1/chat/completions", "{\"model\": \"llama3.1-8b\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);

        // Rows are shipped in journal order: once this one is in, any row of a probe before it would be too.
        await LedgerRows.WaitForAsync(ledger, 1);
        Assert.Equal(before with { Requests = 1, Attempts = 1 }, await CountsAsync(ledger));
    }

    /// <summary>Checks the response is a 4xx with OpenAI's error body and no trace of .NET in it; returns its code.</summary>
    private static string AssertOpenAiClientError(HttpResponseMessage response, string body)
    {
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"status {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotMatch(DotNetLeak(), body);

        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.Equal(["error"], root.EnumerateObject().Select(p => p.Name));
        var error = root.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Contains(error.GetProperty("type").GetString(), new[] { "invalid_request_error", "rate_limit_error", "insufficient_quota" });
        Assert.Contains(error.GetProperty("param").ValueKind, new[] { JsonValueKind.String, JsonValueKind.Null });
        var code = error.GetProperty("code").GetString();
        Assert.False(string.IsNullOrWhiteSpace(code));
        Assert.False(response.Headers.TryGetValues("x-router-policy", out _), "a refused request echoed a policy header");
        return code!;
    }

    /// <summary>Stack frames, exception and framework type names, generic type syntax, or database error details.</summary>
    [GeneratedRegex(@"\bat [A-Z][\w.]+\(|\.cs:line|Exception\b|\bSystem\.|\bMicrosoft\.|\bNpgsql|\bRouter\.|`1\[|SqlState", RegexOptions.CultureInvariant)]
    private static partial Regex DotNetLeak();

    private sealed record Counts(long Requests, long Attempts, long Feedback, long Teams, long Keys);

    private static async Task<Counts> CountsAsync(string ledger)
    {
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM attempts), (SELECT count(*) FROM feedback), (SELECT count(*) FROM teams), (SELECT count(*) FROM api_keys)",
            connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Counts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }
}
