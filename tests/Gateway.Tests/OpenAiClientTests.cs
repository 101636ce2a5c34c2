using System.ClientModel;
using OpenAI;
using OpenAI.Chat;
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
        var client = new ChatClient("llama3.1-8b", new ApiKeyCredential("unused-in-open-mode"), new OpenAIClientOptions { Endpoint = new Uri(http.BaseAddress!, "/v1") });
        ChatMessage[] question = [new UserChatMessage("Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn")];

        ChatCompletion completion = await client.CompleteChatAsync(question, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 64, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 });
        var streamed = new List<string>();
        await foreach (var update in client.CompleteChatStreamingAsync(question, new ChatCompletionOptions { Temperature = 0 }))
        {
            streamed.AddRange(update.ContentUpdate.Select(part => part.Text));
        }

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(question, new ChatCompletionOptions { TopP = 0.5f }));

        Assert.StartsWith("Answer", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.NotEmpty(completion.ContentTokenLogProbabilities);
        Assert.Equal(completion.Content[0].Text, string.Concat(streamed));
        Assert.Equal(400, refused.Status);
        Assert.Contains("top_p", refused.Message, StringComparison.Ordinal);
    }
}
