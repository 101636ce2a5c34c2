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
        _gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), GatewaySettings.NothingListening());
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
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": \"many\"}", HttpStatusCode.BadRequest, "invalid_type", "max_tokens")]
    [InlineData("null", HttpStatusCode.BadRequest, "invalid_json", null)]
    [InlineData("{\"model\": \"no-such-model\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", HttpStatusCode.NotFound, "model_not_found", "model")]
    [InlineData("{\"model\": \"auto\", \"messages\": []}", HttpStatusCode.BadRequest, "invalid_request", "messages")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_cost_usd\": -1}}", HttpStatusCode.BadRequest, "invalid_request", "router.max_cost_usd")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_latency_ms\": 0}}", HttpStatusCode.BadRequest, "invalid_request", "router.max_latency_ms")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"min_confidence\": 1.5}}", HttpStatusCode.BadRequest, "invalid_request", "router.min_confidence")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_latency_ms\": 0.001}}", HttpStatusCode.BadRequest, "invalid_request", "router.max_latency_ms")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"max_cost_usd\": 1e30}}", HttpStatusCode.BadRequest, "invalid_value", "router.max_cost_usd")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"router\": {\"budget\": 1}}", HttpStatusCode.BadRequest, "unknown_parameter", "router.budget")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 0}", HttpStatusCode.BadRequest, "invalid_request", "n")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": -3}", HttpStatusCode.BadRequest, "invalid_request", "n")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 100}", HttpStatusCode.BadRequest, "unsupported_parameter", "n")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": 5}", HttpStatusCode.BadRequest, "invalid_request", "top_p")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": -1}", HttpStatusCode.BadRequest, "invalid_request", "top_p")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": 0.9}", HttpStatusCode.BadRequest, "unsupported_parameter", "top_p")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}", HttpStatusCode.BadRequest, "unsupported_parameter", "tools")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"best_of\": 2}", HttpStatusCode.BadRequest, "unknown_parameter", "best_of")]
    [InlineData("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}", HttpStatusCode.BadRequest, "invalid_text", "messages[0].content")]
    [InlineData("{\"model\": \"auto\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}", HttpStatusCode.BadRequest, "invalid_text", "messages[0].content")]
    [InlineData("{\"model\": \"cascade/x\\u0000y\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", HttpStatusCode.BadRequest, "invalid_request", "model")]
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
    public async Task A_100000_character_policy_name_is_refused_and_not_echoed()
    {
        using var response = await PostAsync("/v1/chat/completions", $"{{\"model\": \"cascade/{new string('p', 100_000)}\", \"messages\": [{{\"role\": \"user\", \"content\": \"hi\"}}]}}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("x-router-policy"));
        var error = await ErrorAsync(response);
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("at most 128 characters", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(error.GetProperty("message").GetString()!.Length < 300);
    }

    [Fact]
    public async Task Invalid_utf8_in_content_is_400_naming_the_field()
    {
        byte[] body = [.. Encoding.UTF8.GetBytes("{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"a"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("b\"}]}")];
        foreach (var path in new[] { "/v1/chat/completions", "/v1/route" })
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await _client.PostAsync(path, content);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = await ErrorAsync(response);
            Assert.Contains(error.GetProperty("code").GetString(), new[] { "invalid_json", "invalid_text" });
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
    public async Task When_no_worker_is_reachable_the_request_fails_with_502_naming_each_stage_and_the_request_id()
    {
        using var response = await PostAsync("/v1/chat/completions", "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("all_stages_failed", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("worker-llama3-1-8b", message, StringComparison.Ordinal);
        Assert.Contains("worker-gpt-4o", message, StringComparison.Ordinal);
        var id = response.Headers.GetValues("x-router-request-id").Single();
        Assert.StartsWith("chatcmpl-", id, StringComparison.Ordinal);
        Assert.Contains(id, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Request_ids_are_version_7_uuids_that_sort_by_the_time_they_were_handed_out()
    {
        var first = Router.Gateway.Apis.ChatCompletionsApi.NewRequestId("chatcmpl-");
        var millisecond = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        SpinWait.SpinUntil(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > millisecond);
        var second = Router.Gateway.Apis.ChatCompletionsApi.NewRequestId("chatcmpl-");

        Assert.Equal(7, Guid.ParseExact(first["chatcmpl-".Length..], "N").Version);
        Assert.True(string.CompareOrdinal(first, second) < 0, $"{first} should sort before {second}");
    }

    private Task<HttpResponseMessage> PostAsync(string path, string body) =>
        _client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("error").Clone();
    }
}
