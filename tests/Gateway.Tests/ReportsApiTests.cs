using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Ledger;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Cost reports over a seeded ledger, checked against SQL written independently in the test.</summary>
[Collection(ServerCollection.Name)]
public sealed class ReportsApiTests(PostgresFixture postgres, RedisFixture redis) : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
    private GatewayFactory _gateway = null!;
    private HttpClient _client = null!;
    private string _ledger = null!;

    public async Task InitializeAsync()
    {
        _ledger = await postgres.CreateDatabaseAsync("ledger");
        await ReportSeed.WriteAsync(_ledger, Day);
        _gateway = new GatewayFactory(redis.Server.ConnectionString, _ledger);
        _gateway.StartServer();
        _client = _gateway.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData("model", "COALESCE(r.final_model, '(no answer)')")]
    [InlineData("policy", "r.policy")]
    [InlineData("team", "COALESCE(t.name, '(no team)')")]
    [InlineData("day", "to_char(r.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")]
    public async Task Every_grouping_equals_a_direct_sql_recomputation(string groupBy, string groupSql)
    {
        var report = await _client.GetFromJsonAsync<JsonElement>($"/v1/reports/costs?from=2026-11-01&to=2026-11-08&groupBy={groupBy}");

        await using var connection = new NpgsqlConnection(_ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"""
            SELECT {groupSql}, count(*), sum(r.cost_usd), sum(r.counterfactual_cost_usd),
                   count(f.request_id), avg(CASE WHEN f.correct THEN 1.0 ELSE 0.0 END) FILTER (WHERE f.request_id IS NOT NULL),
                   count(*) FILTER (WHERE r.stages > 1)
            FROM requests r LEFT JOIN teams t ON t.id = r.team_id LEFT JOIN feedback f ON f.request_id = r.id
            WHERE r.received_at >= '2026-11-01' AND r.received_at < '2026-11-08'
            GROUP BY 1 ORDER BY 1
            """,
            connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = report.GetProperty("rows").EnumerateArray().ToList();
        var expected = 0;
        while (await reader.ReadAsync())
        {
            var row = rows[expected++];
            Assert.Equal(reader.GetString(0), row.GetProperty("group").GetString());
            Assert.Equal(reader.GetInt64(1), row.GetProperty("requests").GetInt64());
            Assert.Equal(reader.GetDecimal(2), row.GetProperty("spend_usd").GetDecimal());
            Assert.Equal(reader.GetDecimal(3), row.GetProperty("counterfactual_usd").GetDecimal());
            Assert.Equal((double)(1 - reader.GetDecimal(2) / reader.GetDecimal(3)) * 100, row.GetProperty("savings_percent").GetDouble(), 6);
            Assert.Equal(reader.GetInt64(4), row.GetProperty("labelled").GetInt64());
            if (!reader.IsDBNull(5))
            {
                Assert.Equal((double)reader.GetDecimal(5), row.GetProperty("accuracy").GetDouble(), 9);
            }

            var escalations = row.GetProperty("escalation_rate");
            var escalatedOnce = escalations.GetArrayLength() == 0 ? 0 : escalations[0].GetDouble();
            Assert.Equal(reader.GetInt64(6) / (double)reader.GetInt64(1), escalatedOnce, 9);
        }

        Assert.Equal(rows.Count, expected);
        Assert.Equal(ReportSeed.Requests, report.GetProperty("totals").GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task Csv_carries_the_same_numbers_as_json()
    {
        var json = await _client.GetFromJsonAsync<JsonElement>("/v1/reports/costs?from=2026-11-01&to=2026-11-08&groupBy=model");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/reports/costs?from=2026-11-01&to=2026-11-08&groupBy=model");
        request.Headers.Accept.ParseAdd("text/csv");
        using var response = await _client.SendAsync(request);

        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Trim().Split('\n');
        Assert.Equal(json.GetProperty("rows").GetArrayLength() + 2, lines.Length);
        var first = json.GetProperty("rows")[0];
        var cells = lines[1].Split(',');
        Assert.Equal($"\"{first.GetProperty("group").GetString()}\"", cells[0]);
        Assert.Equal(first.GetProperty("requests").GetInt64().ToString(CultureInfo.InvariantCulture), cells[1]);
        Assert.Equal(first.GetProperty("spend_usd").GetDecimal(), decimal.Parse(cells[2], CultureInfo.InvariantCulture));
        Assert.StartsWith("\"total\"", lines[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-13-45", "to")]
    [InlineData("from=2026-11-05&to=2026-11-01", "from")]
    [InlineData("from=2024-01-01&to=2026-01-01", "to")]
    [InlineData("groupBy=colour", "groupBy")]
    [InlineData("format=xml", "format")]
    public async Task Bad_parameters_get_400_naming_the_parameter(string query, string param)
    {
        using var response = await _client.GetAsync($"/v1/reports/costs?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task The_report_page_is_served()
    {
        var page = await _client.GetStringAsync("/reports");

        Assert.Contains("Router cost report", page, StringComparison.Ordinal);
        Assert.Contains("/v1/reports/costs", page, StringComparison.Ordinal);
    }
}

/// <summary>A known ledger: two teams, three models, two policies, four days, some escalations and some feedback.</summary>
public static class ReportSeed
{
    public const int Requests = 40;

    public static async Task WriteAsync(string ledger, DateTimeOffset day)
    {
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        await using var source = NpgsqlDataSource.Create(ledger);
        var search = Guid.CreateVersion7();
        var support = Guid.CreateVersion7();
        await using (var teams = source.CreateCommand("INSERT INTO teams (id, name, created_at) VALUES (@a, 'search', now()), (@b, 'support', now())"))
        {
            teams.Parameters.AddWithValue("a", search);
            teams.Parameters.AddWithValue("b", support);
            await teams.ExecuteNonQueryAsync();
        }

        string[] models = ["llama3.1-8b", "llama3.1-70b", "gpt-4o"];
        var requests = Enumerable.Range(0, Requests).Select(i =>
        {
            var stages = 1 + (i % 3);
            var id = $"seed-{i:D3}";
            return new RoutedRequest
            {
                Id = id,
                TeamId = i % 4 == 3 ? null : i % 2 == 0 ? search : support,
                ReceivedAt = day.AddDays(i % 4).AddMinutes(i),
                Policy = i % 5 == 0 ? "budget" : "default",
                PolicyVersion = "1",
                Mode = "cascade",
                FinalModel = models[stages - 1],
                LatencyMs = 20 + i * 3,
                CostUsd = 0.0001m * (i + 1) * stages,
                CounterfactualCostUsd = 0.002m * (i + 1),
                Stages = stages,
                Simulated = true,
                Attempts = [.. Enumerable.Range(0, stages).Select(a => new RoutingAttempt
                {
                    RequestId = id,
                    Attempt = a,
                    Stage = a,
                    Model = models[a],
                    CostUsd = 0.0001m * (i + 1),
                    Decision = a == stages - 1 ? "accept" : "escalate",
                    Discarded = a != stages - 1,
                })],
            };
        }).ToList();
        await new LedgerWriter(source).WriteAsync(requests, CancellationToken.None);
        await using var feedback = source.CreateCommand(
            "INSERT INTO feedback (request_id, correct, created_at, updated_at) SELECT id, (right(id, 1)::int % 3) <> 0, now(), now() FROM requests WHERE right(id, 1)::int % 2 = 0");
        await feedback.ExecuteNonQueryAsync();
    }
}
