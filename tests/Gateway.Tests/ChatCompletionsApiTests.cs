using System.Net;
using System.Text;
using System.Text.Json;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// The HTTP contract of /v1/chat/completions and /v1/route on the real host: bad requests are
/// answered with OpenAI-style errors naming the field before any model is called, and a request
/// whose workers cannot be reached fails with a 502 that names them.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ChatCompletionsApiTests(PostgresFixture postgres, RedisFixture redis) : IAsyncLifetime
{
    private GatewayFactory _gateway = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), new Dictionary<string, string?>
        {
            // Nothing listens on these: every downstream call fails fast with Unavailable.
            ["services:policy:grpc:0"] = "http://127.0.0.1:9",
            ["services:scoring:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-8b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-70b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-gpt-4o:grpc:0"] = "http://127.0.0.1:9",
        });
        _gateway.StartServer();
        _client = _gateway.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Theory]
    [InlineData("{\"model\": \"auto\", \"messages\": [", HttpStatusCode.BadRequest, "invalid_json", "messages[0]")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": \"many\"}", HttpStatusCode.BadRequest, "invalid_json", "max_tokens")]
    [InlineData("null", HttpStatusCode.BadRequest, "invalid_json", null)]
    [InlineData("{\"model\": \"no-such-model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", HttpStatusCode.NotFound, "model_not_found", "model")]
    [InlineData("{\"model\": \"auto\", \"messages\": []}", HttpStatusCode.BadRequest, "invalid_request", "messages")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_cost_usd\": -1}}", HttpStatusCode.BadRequest, "invalid_request", "router.max_cost_usd")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_latency_ms\": 0}}", HttpStatusCode.BadRequest, "invalid_request", "router.max_latency_ms")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"min_confidence\": 1.5}}", HttpStatusCode.BadRequest, "invalid_request", "router.min_confidence")]
    public async Task Bad_requests_get_openai_errors_naming_the_field(string body, HttpStatusCode status, string code, string? param)
    {
        foreach (var path in new[] { "/v1/chat/completions", "/v1/route" })
        {
            using var response = await PostAsync(path, body);

            Assert.Equal(status, response.StatusCode);
            var error = await ErrorAsync(response);
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        }
    }

    [Fact]
    public async Task Route_refuses_to_stream()
    {
        using var response = await PostAsync("/v1/route", "{\"model\": \"auto\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("stream", (await ErrorAsync(response)).GetProperty("param").GetString());
    }

    [Fact]
    public async Task When_no_worker_is_reachable_the_request_fails_with_502_naming_each_stage()
    {
        using var response = await PostAsync("/v1/chat/completions", "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("all_stages_failed", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("worker-llama3-1-8b", message, StringComparison.Ordinal);
        Assert.Contains("worker-gpt-4o", message, StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> PostAsync(string path, string body) =>
        _client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("error").Clone();
    }
}
