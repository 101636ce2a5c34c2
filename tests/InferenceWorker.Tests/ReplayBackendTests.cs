using Grpc.Core;
using Router.Contracts;
using Router.Domain.Traces;
using Router.Testing;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>The replay backend behind the real worker host: recorded answers come back for the prompts they were recorded for.</summary>
public sealed class ReplayBackendTests
{
    [Fact]
    public async Task The_cascade_traces_csv_replays_the_recorded_answer_usage_and_confidence()
    {
        CascadePrompt prompt;
        using (var reader = SharedData.Open("cascade-traces/prompts.csv"))
        {
            prompt = CascadePrompt.ReadCsv(reader).First(p => p.Benchmark == "mmlu" && p.Split == "test");
        }

        CascadeTrace recorded;
        using (var reader = SharedData.Open("cascade-traces/traces.csv"))
        {
            recorded = CascadeTrace.ReadCsv(reader).First(t => t.Benchmark == prompt.Benchmark && t.Split == prompt.Split && t.QueryIndex == prompt.QueryIndex && t.Model == "gpt-4o");
        }

        await using var worker = Worker("gpt-4o", SharedData.PathOf("cascade-traces/traces.csv"));
        var client = new Inference.InferenceClient(worker.Channel);

        var response = await client.GenerateAsync(new GenerateRequest { Messages = { new ChatMessage { Role = "system", Content = prompt.SystemPrompt }, new ChatMessage { Role = "user", Content = prompt.UserPrompt } } });

        Assert.Equal(recorded.Answer, response.Text);
        Assert.Equal((recorded.TokensIn, recorded.TokensOut), (response.Usage.PromptTokens, response.Usage.CompletionTokens));
        Assert.Equal(recorded.RawConfidence, Assert.Single(response.Tokens).Logprob);
        Assert.Equal(("replay", false), (response.Backend, response.Simulated));
    }

    [Fact]
    public async Task The_jsonl_layout_replays_per_token_logprobs_streamed_or_not_and_unknown_prompts_are_not_found()
    {
        var path = Path.Combine(TestState.Directory, $"replay-{Guid.NewGuid():N}.jsonl");
        Directory.CreateDirectory(TestState.Directory);
        await File.WriteAllLinesAsync(path,
        [
            """{"model":"m","prompt":"What is the capital of France?","answer":"Answer: Paris","tokens":[{"token":"Answer","logprob":0,"top_logprobs":[{"token":"Answer","logprob":0},{"token":"The","logprob":-7.5}]},{"token":":","logprob":-0.01},{"token":" Paris","logprob":-0.2,"top_logprobs":[{"token":" Paris","logprob":-0.2},{"token":" Lyon","logprob":-2.1}]}],"usage":{"prompt_tokens":9,"completion_tokens":3},"latency_ms":120}""",
            """{"model":"other","prompt":"What is the capital of France?","answer":"Answer: Lyon","tokens":[]}""",
        ]);
        await using var worker = Worker("m", path);
        var client = new Inference.InferenceClient(worker.Channel);
        var request = new GenerateRequest { Messages = { new ChatMessage { Role = "user", Content = "What is the capital of France?" } } };

        var response = await client.GenerateAsync(request);
        var chunks = new List<GenerateChunk>();
        using (var call = client.GenerateStream(request))
        {
            await foreach (var chunk in call.ResponseStream.ReadAllAsync())
            {
                chunks.Add(chunk);
            }
        }

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GenerateAsync(new GenerateRequest { Prompt = "Never recorded" }).ResponseAsync);

        Assert.Equal("Answer: Paris", response.Text);
        Assert.Equal([0, -0.01, -0.2], response.Tokens.Select(t => t.Logprob));
        Assert.Equal(" Lyon", response.Tokens[2].TopLogprobs[1].Token);
        Assert.Equal((9, 3, 120.0), (response.Usage.PromptTokens, response.Usage.CompletionTokens, response.Latency.TotalMs));
        Assert.Equal(response.Tokens, chunks.SelectMany(c => c.Tokens));
        Assert.Equal("stop", chunks[^1].FinishReason);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains(path, missing.Status.Detail, StringComparison.Ordinal);
    }

    private static GrpcServiceFactory<Program> Worker(string model, string path) => new(new Dictionary<string, string?>
    {
        ["Worker:Model"] = model,
        ["Worker:Backend"] = "replay",
        ["Worker:TracePath"] = path,
        ["Worker:ContextLength"] = "128000",
    });
}
