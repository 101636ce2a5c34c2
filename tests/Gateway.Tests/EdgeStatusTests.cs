using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Router.Ledger;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Status codes at the edge of the real host: the caller's mistakes are 4xx, and every error has OpenAI's body in every environment.</summary>
[Collection(ServerCollection.Name)]
public sealed class EdgeStatusTests(PostgresFixture postgres, RedisFixture redis)
{
    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task A_20_mb_prompt_is_413_before_it_is_read(string environment)
    {
        await using var gateway = Gateway(environment);
        using var client = gateway.CreateClient();
        var body = $"{{\"model\": \"auto\", \"messages\": [{{\"role\": \"user\", \"content\": \"{new string('x', 20 * 1024 * 1024)}\"}}]}}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await ErrorAsync(response)).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task Unknown_paths_and_wrong_methods_get_an_error_body(string environment)
    {
        await using var gateway = Gateway(environment);
        using var client = gateway.CreateClient();

        using var unknown = await client.GetAsync("/v1/engines");
        using var wrongMethod = await client.DeleteAsync("/v1/chat/completions");

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown_url", (await ErrorAsync(unknown)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("method_not_allowed", (await ErrorAsync(wrongMethod)).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task An_unhandled_exception_is_a_500_in_openai_shape_without_its_details(string environment)
    {
        await using var gateway = Gateway(environment, new Dictionary<string, string?> { ["Access:AdminKey"] = "admin-key-for-the-edge-tests-0123456789" }, services =>
            services.AddSingleton<IDbContextFactory<LedgerDbContext>, FailingContexts>());
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/teams");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "admin-key-for-the-edge-tests-0123456789");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(FailingContexts.Secret, body, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(("api_error", "internal_error"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.Contains("trace id", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_prompt_over_the_context_window_is_400_context_length_exceeded_and_is_recorded()
    {
        await using var worker = new SimulatedWorker("llama3.1-8b");
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, ledger, GatewaySettings.NothingListening(worker.Route));
        gateway.StartServer();
        using var client = gateway.CreateClient();

        // About 150,000 tokens by the worker's estimate; the simulated llama3.1-8b has 131,072.
        var prompt = string.Concat(Enumerable.Repeat("What is two plus two? ", 27_500));
        using var response = await client.PostAsync(
            "/v1/chat/completions",
            new StringContent($"{{\"model\": \"llama3.1-8b\", \"messages\": [{{\"role\": \"user\", \"content\": \"{prompt}\"}}]}}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal(("context_length_exceeded", "messages"), (error.GetProperty("code").GetString(), error.GetProperty("param").GetString()));
        Assert.Contains("131072", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("chatcmpl-", response.Headers.GetValues("x-router-request-id").Single(), StringComparison.Ordinal);

        // A worker was asked, so the request is in the ledger, as failed.
        Assert.Equal((1L, 1L), await LedgerRows.WaitForAsync(ledger, 1));
    }

    private GatewayFactory Gateway(string environment, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), settings, environment, services);
        gateway.StartServer();
        return gateway;
    }

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("error").Clone();
    }

    /// <summary>A ledger that fails in a way no handler expects.</summary>
    private sealed class FailingContexts : IDbContextFactory<LedgerDbContext>
    {
        public const string Secret = "detail that must not leave the server";

        public LedgerDbContext CreateDbContext() => throw new InvalidOperationException(Secret);
    }
}
