using System.Net;
using System.Text.Json;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

[Collection(ServerCollection.Name)]
public sealed class ModelsApiTests(PostgresFixture postgres, RedisFixture redis)
{
    [Fact]
    public async Task Lists_the_configured_portfolio_in_tier_order_with_prices()
    {
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), new Dictionary<string, string?>
        {
            // Configuration order differs from tier order on purpose.
            ["Portfolio:Models:0:Tier"] = "2",
            ["Portfolio:Models:2:Tier"] = "0",
        });
        gateway.StartServer();
        using var client = gateway.CreateClient();

        using var response = await client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("list", body.RootElement.GetProperty("object").GetString());
        var models = body.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["gpt-4o", "llama3.1-70b", "llama3.1-8b"], models.Select(m => m.GetProperty("id").GetString()));
        Assert.Equal([0, 1, 2], models.Select(m => m.GetProperty("tier").GetInt32()));
        var gpt4o = models[0];
        Assert.Equal(2.5m, gpt4o.GetProperty("input_usd_per_million_tokens").GetDecimal());
        Assert.Equal(10.0m, gpt4o.GetProperty("output_usd_per_million_tokens").GetDecimal());
        Assert.Equal(JsonValueKind.Null, gpt4o.GetProperty("parameter_count").ValueKind);
        Assert.Equal(8_000_000_000, models[2].GetProperty("parameter_count").GetInt64());
    }

    [Fact]
    public async Task One_model_is_served_by_id_and_an_unknown_id_is_404_in_openai_shape()
    {
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"));
        gateway.StartServer();
        using var client = gateway.CreateClient();

        using var model = await client.GetAsync("/v1/models/gpt-4o");
        using var unknown = await client.GetAsync("/v1/models/gpt-5-" + new string('x', 1000));

        Assert.Equal(HttpStatusCode.OK, model.StatusCode);
        using var body = JsonDocument.Parse(await model.Content.ReadAsStringAsync());
        Assert.Equal(("gpt-4o", "model", 128000), (body.RootElement.GetProperty("id").GetString(), body.RootElement.GetProperty("object").GetString(), body.RootElement.GetProperty("context_length").GetInt32()));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var error = JsonDocument.Parse(await unknown.Content.ReadAsStringAsync());
        Assert.Equal("model_not_found", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.True(error.RootElement.GetProperty("error").GetProperty("message").GetString()!.Length < 300, "the unknown id was echoed whole");
    }

    [Fact]
    public async Task An_invalid_portfolio_fails_start_up_naming_each_bad_key()
    {
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), new Dictionary<string, string?>
        {
            ["Portfolio:Models:1:Tier"] = "0",
            ["Portfolio:Models:2:OutputUsdPerMillionTokens"] = "-1",
        });

        var message = gateway.StartUpFailure();
        Assert.Contains("Portfolio:Models:1:Tier: 0 is already the tier of 'llama3.1-8b'", message, StringComparison.Ordinal);
        Assert.Contains("Portfolio:Models:2:OutputUsdPerMillionTokens: must be >= 0, got -1.", message, StringComparison.Ordinal);
    }
}
