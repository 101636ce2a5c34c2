using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Gateway.Access;
using Router.Ledger;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Keys, rate limits, budgets and feedback on the real host over a fresh ledger database.</summary>
[Collection(ServerCollection.Name)]
public sealed class AccessTests(PostgresFixture postgres, RedisFixture redis) : IAsyncLifetime
{
    private const string AdminKey = "admin-key-for-the-tests-0123456789";
    private GatewayFactory _gateway = null!;
    private HttpClient _client = null!;
    private string _ledger = null!;

    public async Task InitializeAsync()
    {
        _ledger = await postgres.CreateDatabaseAsync("ledger");
        await using (var services = new ServiceCollection().AddLedger(_ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        _gateway = new GatewayFactory(redis.Server.ConnectionString, _ledger, new Dictionary<string, string?>
        {
            ["Access:Mode"] = "Keys",
            ["Access:AdminKey"] = AdminKey,
        });
        _gateway.StartServer();
        _client = _gateway.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Calls_without_a_key_or_with_an_unknown_one_get_401()
    {
        using var missing = await SendAsync(HttpMethod.Get, "/v1/models", key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("missing_api_key", await CodeAsync(missing));

        using var unknown = await SendAsync(HttpMethod.Get, "/v1/models", key: ApiKeys.NewKey());
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal("invalid_api_key", await CodeAsync(unknown));
    }

    [Fact]
    public async Task The_admin_api_needs_the_admin_key_and_validates_fields()
    {
        using var anonymous = await SendAsync(HttpMethod.Post, "/admin/teams", key: null, new { name = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var bad = await SendAsync(HttpMethod.Post, "/admin/teams", AdminKey, new { name = "x", requests_per_minute = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("requests_per_minute", await ParamAsync(bad));

        await CreateTeamAsync("twice", null, null);
        using var duplicate = await SendAsync(HttpMethod.Post, "/admin/teams", AdminKey, new { name = "twice" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
    }

    [Fact]
    public async Task A_revoked_key_gets_401()
    {
        await CreateTeamAsync("revokers", null, null);
        var (id, key) = await CreateKeyAsync("revokers");
        using (var ok = await SendAsync(HttpMethod.Get, "/v1/models", key))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var revoke = await SendAsync(HttpMethod.Delete, $"/admin/keys/{id}", AdminKey);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        using var after = await SendAsync(HttpMethod.Get, "/v1/models", key);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal("invalid_api_key", await CodeAsync(after));
    }

    [Fact]
    public async Task Over_the_rate_limit_a_key_gets_429_with_retry_after()
    {
        await CreateTeamAsync("limited", null, 3);
        var (_, key) = await CreateKeyAsync("limited");

        // Seven calls span at most one minute boundary, so at most six fit under a limit of three.
        HttpResponseMessage? limited = null;
        var allowed = 0;
        for (var i = 0; i < 7 && limited is null; i++)
        {
            var response = await SendAsync(HttpMethod.Get, "/v1/models", key);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                allowed++;
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        Assert.InRange(allowed, 3, 6);
        Assert.Equal("rate_limit_exceeded", await CodeAsync(limited));
        var retryAfter = int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        limited.Dispose();
    }

    [Fact]
    public async Task Over_the_monthly_budget_routing_calls_get_402_and_other_calls_still_work()
    {
        var team = await CreateTeamAsync("spenders", 0.01m, null);
        var (_, key) = await CreateKeyAsync("spenders");
        await WriteRequestAsync("spent-1", team, 0.02m);

        using var chat = await SendAsync(HttpMethod.Post, "/v1/chat/completions", key, new { model = "auto", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.PaymentRequired, chat.StatusCode);
        Assert.Equal("budget_exceeded", await CodeAsync(chat));

        using var models = await SendAsync(HttpMethod.Get, "/v1/models", key);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
    }

    [Fact]
    public async Task Keys_are_stored_only_as_their_hash()
    {
        await CreateTeamAsync("hashers", null, null);
        var (id, key) = await CreateKeyAsync("hashers");

        await using var connection = new NpgsqlConnection(_ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT * FROM api_keys WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var columns = Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => reader.GetValue(i)?.ToString() ?? string.Empty);
        Assert.DoesNotContain(columns.Values, value => value.Contains(key[ApiKeys.DisplayedPrefixLength..], StringComparison.Ordinal));
        Assert.Equal(ApiKeys.Hash(key), columns["hash"]);
        Assert.Equal(key[..ApiKeys.DisplayedPrefixLength], columns["prefix"]);
    }

    [Fact]
    public async Task Feedback_is_idempotent_and_scoped_to_the_team()
    {
        var team = await CreateTeamAsync("labellers", null, null);
        var (_, key) = await CreateKeyAsync("labellers");
        await CreateTeamAsync("others", null, null);
        var (_, otherKey) = await CreateKeyAsync("others");
        await WriteRequestAsync("labelled-1", team, 0.001m);

        using var first = await SendAsync(HttpMethod.Post, "/v1/feedback", key, new { request_id = "labelled-1", correct = true });
        using var again = await SendAsync(HttpMethod.Post, "/v1/feedback", key, new { request_id = "labelled-1", correct = true });
        using var foreign = await SendAsync(HttpMethod.Post, "/v1/feedback", otherKey, new { request_id = "labelled-1", correct = false });
        using var both = await SendAsync(HttpMethod.Post, "/v1/feedback", key, new { request_id = "labelled-1", correct = true, score = 0.5 });
        using var unknown = await SendAsync(HttpMethod.Post, "/v1/feedback", key, new { request_id = "nope", correct = true });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True((await JsonAsync(first)).GetProperty("changed").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.False((await JsonAsync(again)).GetProperty("changed").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        await using var connection = new NpgsqlConnection(_ledger);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*), bool_and(correct) FROM feedback WHERE request_id = 'labelled-1'", connection);
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((1L, true), (reader.GetInt64(0), reader.GetBoolean(1)));
    }

    [Fact]
    public async Task Reports_show_a_team_key_only_its_team_and_the_admin_key_every_team()
    {
        var reporters = await CreateTeamAsync("reporters", null, null);
        var (_, key) = await CreateKeyAsync("reporters");
        var secretive = await CreateTeamAsync("secretive", null, null);
        await WriteRequestAsync("reporters-1", reporters, 0.25m);
        await WriteRequestAsync("secretive-1", secretive, 0.75m);

        using var own = await SendAsync(HttpMethod.Get, "/v1/reports/costs?groupBy=team", key);
        using var ownCsv = await SendAsync(HttpMethod.Get, "/v1/reports/costs?groupBy=team&format=csv", key);
        using var ownByDay = await SendAsync(HttpMethod.Get, "/v1/reports/costs", key);
        using var all = await SendAsync(HttpMethod.Get, "/v1/reports/costs?groupBy=team", AdminKey);

        var mine = await JsonAsync(own);
        Assert.Equal(["reporters"], mine.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("group").GetString()));
        Assert.Equal(0.25m, mine.GetProperty("totals").GetProperty("spend_usd").GetDecimal());
        Assert.DoesNotContain("secretive", await ownCsv.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0.25m, (await JsonAsync(ownByDay)).GetProperty("totals").GetProperty("spend_usd").GetDecimal());
        var every = await JsonAsync(all);
        Assert.Equal(["reporters", "secretive"], every.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("group").GetString()));
        Assert.Equal(1.00m, every.GetProperty("totals").GetProperty("spend_usd").GetDecimal());
    }

    [Fact]
    public async Task The_admin_key_reads_but_does_not_route_or_label()
    {
        using var models = await SendAsync(HttpMethod.Get, "/v1/models", AdminKey);
        using var chat = await SendAsync(HttpMethod.Post, "/v1/chat/completions", AdminKey, new { model = "auto", messages = new[] { new { role = "user", content = "hi" } } });
        using var feedback = await SendAsync(HttpMethod.Post, "/v1/feedback", AdminKey, new { request_id = "chatcmpl-1", correct = true });

        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, chat.StatusCode);
        Assert.Equal("admin_key_not_allowed", await CodeAsync(chat));
        Assert.Equal(HttpStatusCode.Forbidden, feedback.StatusCode);
    }

    [Theory]
    [InlineData("{\"name\": \"nul\\u0000team\"}", "name")]
    [InlineData("{\"name\": \"budgeted\", \"monthly_budget_usd\": 1e30}", "monthly_budget_usd")]
    [InlineData("{\"name\": \"budgeted\", \"monthly_budget_usd\": 1e12}", "monthly_budget_usd")]
    [InlineData("{\"name\": \"limited\", \"requests_per_minute\": \"many\"}", "requests_per_minute")]
    [InlineData("{\"name\": 5}", "name")]
    [InlineData("{\"name\": \"x\", \"colour\": \"red\"}", "colour")]
    public async Task A_bad_team_is_a_400_naming_the_field_and_creates_nothing(string json, string param)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/teams") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await _client.SendAsync(request);
        using var teams = await SendAsync(HttpMethod.Get, "/admin/teams", AdminKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, await ParamAsync(response));
        Assert.Equal(0, (await JsonAsync(teams)).GetArrayLength());
    }

    [Fact]
    public async Task A_key_can_be_made_without_a_body_and_a_bad_team_or_key_id_is_a_4xx()
    {
        await CreateTeamAsync("bodiless", null, null);

        using var created = await SendAsync(HttpMethod.Post, "/admin/teams/bodiless/keys", AdminKey);
        using var controlTeam = await SendAsync(HttpMethod.Post, "/admin/teams/a%01b/keys", AdminKey);
        using var notAnId = await SendAsync(HttpMethod.Delete, "/admin/keys/not-a-uuid", AdminKey);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("default", (await JsonAsync(created)).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, controlTeam.StatusCode);
        Assert.Equal("team", await ParamAsync(controlTeam));
        Assert.Equal(HttpStatusCode.BadRequest, notAnId.StatusCode);
        Assert.Equal("id", await ParamAsync(notAnId));
    }

    [Fact]
    public async Task Feedback_with_a_nul_byte_in_the_id_is_400()
    {
        await CreateTeamAsync("nul-labellers", null, null);
        var (_, key) = await CreateKeyAsync("nul-labellers");

        using var response = await SendAsync(HttpMethod.Post, "/v1/feedback", key, new { request_id = "chatcmpl-\u0000", correct = true });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("request_id", await ParamAsync(response));
    }

    private async Task<Guid> CreateTeamAsync(string name, decimal? budget, int? perMinute)
    {
        using var response = await SendAsync(HttpMethod.Post, "/admin/teams", AdminKey, new { name, monthly_budget_usd = budget, requests_per_minute = perMinute });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await JsonAsync(response)).GetProperty("id").GetGuid();
    }

    private async Task<(Guid Id, string Key)> CreateKeyAsync(string team)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/admin/teams/{team}/keys", AdminKey, new { name = "ci" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await JsonAsync(response);
        return (body.GetProperty("id").GetGuid(), body.GetProperty("key").GetString()!);
    }

    private async Task WriteRequestAsync(string id, Guid team, decimal cost)
    {
        await using var source = NpgsqlDataSource.Create(_ledger);
        await new LedgerWriter(source).WriteAsync(
            [new RoutedRequest { Id = id, TeamId = team, ReceivedAt = DateTimeOffset.UtcNow, Policy = "default", PolicyVersion = "1", Mode = "cascade", FinalModel = "llama3.1-8b", CostUsd = cost, CounterfactualCostUsd = cost * 4 }],
            CancellationToken.None);
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }), Encoding.UTF8, "application/json");
        }

        return _client.SendAsync(request);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).Clone();

    private static async Task<string?> CodeAsync(HttpResponseMessage response) => (await JsonAsync(response)).GetProperty("error").GetProperty("code").GetString();

    private static async Task<string?> ParamAsync(HttpResponseMessage response) => (await JsonAsync(response)).GetProperty("error").GetProperty("param").GetString();
}
