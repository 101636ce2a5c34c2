using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>The official OpenAI .NET client against the real Gateway: what it sends passes the Gateway's checks, and a refusal reaches it as OpenAI's error.</summary>
[Collection(ServerCollection.Name)]
public sealed class OpenAiClientTests(PostgresFixture postgres, RedisFixture redis)
{
    [Fact]
    public async Task The_official_client_gets_answers_streams_and_errors()
    {
        await using var worker = new SimulatedWorker("llama3.1-8b");
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), GatewaySettings.NothingListening(worker.Route));
        gateway.StartServer();
        using var http = gateway.CreateClient();
        var options = new OpenAIClientOptions { Endpoint = new Uri(http.BaseAddress!, "/v1") };
        var client = new ChatClient("llama3.1-8b", new ApiKeyCredential("unused-in-open-mode"), options);
        var models = (await new OpenAIModelClient(new ApiKeyCredential("unused-in-open-mode"), options).GetModelsAsync()).Value;
        ChatMessage[] question = [new UserChatMessage("Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn")];

        ChatCompletion completion = await client.CompleteChatAsync(question, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 });
        var streamed = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync(question, new ChatCompletionOptions { Temperature = 0 }))
        {
            streamed.AddRange(update.ContentUpdate.Select(part => part.Text));
        }

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(question, new ChatCompletionOptions { TopP = 0.5f }));

        Assert.Contains(models, m => m.Id == "llama3.1-8b");
        Assert.StartsWith("Answer", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.NotEmpty(completion.ContentTokenLogProbabilities);
        Assert.Equal(completion.Content[0].Text, string.Concat(streamed));
        Assert.Equal(400, refused.Status);
        Assert.Contains("top_p", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_OpenAPI_document_and_its_reference_page_describe_the_routes()
    {
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, postgres.Server.ConnectionString("postgres"), GatewaySettings.NothingListening());
        using var http = gateway.CreateClient();

        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json"));
        using var page = await http.GetAsync("/scalar");

        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Superset(new HashSet<string>(["/v1/models", "/v1/chat/completions", "/v1/route", "/v1/feedback"]), paths.ToHashSet());
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }
}
