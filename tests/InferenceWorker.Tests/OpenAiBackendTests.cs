using Grpc.Core;
using Router.Contracts;
using Router.Testing;
using Router.Testing.OpenAiStub;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>The production openai / azure-openai backend (Semantic Kernel's connector) against the stub speaking OpenAI's JSON.</summary>
public sealed class OpenAiBackendTests : IAsyncLifetime
{
    private OpenAiStubServer _stub = null!;

    public async Task InitializeAsync() => _stub = await OpenAiStubServer.StartAsync();

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    [Theory]
    [InlineData("openai")]
    [InlineData("azure-openai")]
    public async Task Tokens_logprobs_and_alternatives_arrive_intact_streamed_or_not(string backend)
    {
        await using var worker = Worker(backend, maxRetries: 0);
        var client = new Inference.InferenceClient(worker.Channel);
        var request = Request(topLogprobs: 2);

        var response = await client.GenerateAsync(request);
        var chunks = new List<GenerateChunk>();
        using (var call = client.GenerateStream(request))
        {
            await foreach (var chunk in call.ResponseStream.ReadAllAsync())
            {
                chunks.Add(chunk);
            }
        }

        Assert.Equal("Answer: B because", response.Text);
        Assert.Equal(backend, response.Backend);
        Assert.Equal((42, 4), (response.Usage.PromptTokens, response.Usage.CompletionTokens));
        Assert.Equal(_stub.Tokens.Select(t => t.Token), response.Tokens.Select(t => t.Token));
        Assert.Equal(_stub.Tokens.Select(t => (float)t.Logprob), response.Tokens.Select(t => (float)t.Logprob));
        Assert.Equal(_stub.Tokens.Select(t => t.Top.Take(2).Select(a => a.Token).ToList()), response.Tokens.Select(t => t.TopLogprobs.Select(a => a.Token).ToList()));
        Assert.Equal(response.Text, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(response.Tokens.Select(t => t.Token), chunks.SelectMany(c => c.Tokens).Select(t => t.Token));
        Assert.Equal("stop", chunks[^1].FinishReason);
        var sent = _stub.Requests.First();
        Assert.True(sent["logprobs"]!.GetValue<bool>());
        Assert.Equal(2, sent["top_logprobs"]!.GetValue<int>());
        Assert.Equal("gpt-4o-2024-08-06", sent["model"]!.GetValue<string>());
    }

    public static TheoryData<StubBehaviour, StatusCode> Failures => new()
    {
        { new StubBehaviour.Fail(429, "Rate limit reached"), StatusCode.ResourceExhausted },
        { new StubBehaviour.Fail(500, "The server had an error"), StatusCode.Unavailable },
        { new StubBehaviour.Fail(401, "Incorrect API key provided"), StatusCode.PermissionDenied },
        { new StubBehaviour.Fail(400, "This model's maximum context length is 128000 tokens"), StatusCode.InvalidArgument },
        { new StubBehaviour.Malformed(), StatusCode.Internal },
        { new StubBehaviour.NoLogprobs(), StatusCode.FailedPrecondition },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Failures_become_grpc_statuses_naming_the_backend(StubBehaviour behaviour, StatusCode status)
    {
        await using var worker = Worker("openai", maxRetries: 0);
        _stub.Enqueue(behaviour);

        var error = await Assert.ThrowsAsync<RpcException>(() => new Inference.InferenceClient(worker.Channel).GenerateAsync(Request(topLogprobs: 1)).ResponseAsync);

        Assert.Equal(status, error.StatusCode);
        Assert.StartsWith("openai backend", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rate_limited_call_is_retried_by_the_connector_and_succeeds()
    {
        await using var worker = Worker("openai", maxRetries: 2);
        _stub.Enqueue(new StubBehaviour.Fail(429, "slow down", RetryAfterSeconds: 0));

        var response = await new Inference.InferenceClient(worker.Channel).GenerateAsync(Request(topLogprobs: 1));

        Assert.Equal("Answer: B because", response.Text);
        Assert.Equal(2, _stub.Requests.Count);
    }

    private GrpcServiceFactory<Program> Worker(string backend, int maxRetries) => new(new Dictionary<string, string?>
    {
        ["Worker:Model"] = "gpt-4o",
        ["Worker:BackendModel"] = "gpt-4o-2024-08-06",
        ["Worker:Backend"] = backend,
        ["Worker:Endpoint"] = new Uri(_stub.Address, "v1/").ToString(),
        ["Worker:ApiKey"] = "sk-test",
        ["Worker:ContextLength"] = "128000",
        ["Worker:MaxRetries"] = maxRetries.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    private static GenerateRequest Request(int topLogprobs) => new()
    {
        Messages = { new ChatMessage { Role = "system", Content = "Answer in the format 'Answer: <letter>'." }, new ChatMessage { Role = "user", Content = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn" } },
        MaxTokens = 64,
        TopLogprobs = topLogprobs,
        Temperature = 0,
    };
}
