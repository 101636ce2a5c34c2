using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Contracts;
using Router.Testing;
using Router.Testing.OpenAiStub;
using Xunit;

namespace Router.InferenceWorker.Tests;

/// <summary>
/// The production vllm backend against a stub speaking OpenAI's JSON, called through the generated
/// Inference client the Gateway uses: over a real gRPC channel to the worker host, and in-process
/// (the Gateway's workers in its own process). Both run every test, so the two keep one behaviour:
/// the same answers, status codes, details, deadlines and aborts.
/// </summary>
public abstract class VllmBackendTests : IAsyncLifetime
{
    private OpenAiStubServer _stub = null!;

    public async Task InitializeAsync() => _stub = await OpenAiStubServer.StartAsync();

    public async Task DisposeAsync() => await _stub.DisposeAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_token_logprob_and_alternative_arrives_intact(bool chat)
    {
        await using var worker = Worker();
        var client = worker.Client;

        var request = Request(chat, topLogprobs: 3);
        (request.TopP, request.Seed) = (0.5f, 7);
        request.Stop.Add("\n\n");
        var response = await client.GenerateAsync(request);

        Assert.Equal("Answer: B because", response.Text);
        Assert.Equal("stop", response.FinishReason);
        Assert.Equal((42, 4), (response.Usage.PromptTokens, response.Usage.CompletionTokens));
        Assert.Equal("vllm", response.Backend);
        Assert.False(response.Simulated);
        AssertTokens(_stub.Tokens, response.Tokens, 3);
        var sent = _stub.Requests.Last();
        Assert.Equal("meta-llama/Llama-3.1-8B-Instruct", sent["model"]!.GetValue<string>());
        Assert.Equal((64, false, 0.0, 0.5, 7, "\n\n"), (sent["max_tokens"]!.GetValue<int>(), sent["stream"]!.GetValue<bool>(), sent["temperature"]!.GetValue<double>(), sent["top_p"]!.GetValue<double>(), sent["seed"]!.GetValue<int>(), sent["stop"]![0]!.GetValue<string>()));
        if (chat)
        {
            Assert.True(sent["logprobs"]!.GetValue<bool>());
            Assert.Equal(3, sent["top_logprobs"]!.GetValue<int>());
            Assert.Equal(("user", request.Messages[0].Content), (sent["messages"]![0]!["role"]!.GetValue<string>(), sent["messages"]![0]!["content"]!.GetValue<string>()));
        }
        else
        {
            Assert.Equal(3, sent["logprobs"]!.GetValue<int>());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Streamed_chunks_reassemble_to_the_same_tokens(bool chat)
    {
        await using var worker = Worker();
        var client = worker.Client;

        using var call = client.GenerateStream(Request(chat, topLogprobs: 2));
        var chunks = new List<GenerateChunk>();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync())
        {
            chunks.Add(chunk);
        }

        Assert.Equal("Answer: B because", string.Concat(chunks.Select(c => c.Text)));
        AssertTokens(_stub.Tokens, [.. chunks.SelectMany(c => c.Tokens)], 2);
        var last = chunks[^1];
        Assert.Equal("stop", last.FinishReason);
        Assert.Equal((42, 4), (last.Usage.PromptTokens, last.Usage.CompletionTokens));
        Assert.True(last.Latency.TotalMs >= last.Latency.TimeToFirstTokenMs);
    }

    [Fact]
    public async Task Max_tokens_truncates_with_finish_reason_length()
    {
        await using var worker = Worker();
        var request = Request(chat: true, topLogprobs: 1);
        request.MaxTokens = 2;

        var response = await worker.Client.GenerateAsync(request);

        Assert.Equal("length", response.FinishReason);
        Assert.Equal(2, response.Tokens.Count);
    }

    public static TheoryData<StubBehaviour, StatusCode, string> Failures => new()
    {
        { new StubBehaviour.Fail(429, "Too many requests"), StatusCode.ResourceExhausted, "429" },
        { new StubBehaviour.Fail(500, "CUDA out of memory"), StatusCode.Unavailable, "CUDA out of memory" },
        { new StubBehaviour.Fail(400, "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens"), StatusCode.InvalidArgument, "context length" },
        { new StubBehaviour.Fail(404, "The model `x` does not exist."), StatusCode.NotFound, "Worker:BackendModel" },
        { new StubBehaviour.Fail(401, "bad key"), StatusCode.PermissionDenied, "Worker:ApiKey" },
        { new StubBehaviour.Malformed(), StatusCode.Internal, "malformed JSON" },
        { new StubBehaviour.NoLogprobs(), StatusCode.FailedPrecondition, "no logprobs" },
        { new StubBehaviour.WrongShape(), StatusCode.Internal, "choices[0].message.content is a number" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Backend_failures_become_the_right_grpc_status_naming_the_backend_and_cause(StubBehaviour behaviour, StatusCode status, string cause)
    {
        await using var worker = Worker(maxRetries: 0);
        _stub.Enqueue(behaviour);

        var error = await Assert.ThrowsAsync<RpcException>(() => worker.Client.GenerateAsync(Request(chat: true, topLogprobs: 2)).ResponseAsync);

        Assert.Equal(status, error.StatusCode);
        Assert.Contains("vllm backend", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(cause, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rate_limited_and_unavailable_calls_are_retried_then_succeed()
    {
        await using var worker = Worker(maxRetries: 2);
        _stub.Enqueue(new StubBehaviour.Fail(429, "slow down", RetryAfterSeconds: 0), new StubBehaviour.Fail(503, "warming up"));

        var response = await worker.Client.GenerateAsync(Request(chat: true, topLogprobs: 1));

        Assert.Equal("Answer: B because", response.Text);
        Assert.Equal(3, _stub.Requests.Count);
    }

    [Fact]
    public async Task A_backend_that_hangs_times_out_with_deadline_exceeded()
    {
        await using var worker = Worker(maxRetries: 0, timeout: "00:00:00.500");
        _stub.Enqueue(new StubBehaviour.Hang());

        var error = await Assert.ThrowsAsync<RpcException>(() => worker.Client.GenerateAsync(Request(chat: true, topLogprobs: 1)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("Worker:RequestTimeout", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_that_stalls_mid_body_times_out_with_deadline_exceeded_and_the_request_is_aborted()
    {
        await using var worker = Worker(maxRetries: 0, timeout: "00:00:00.500");
        _stub.Enqueue(new StubBehaviour.StallBody());

        var error = await Assert.ThrowsAsync<RpcException>(() => worker.Client.GenerateAsync(Request(chat: true, topLogprobs: 1)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("Worker:RequestTimeout", error.Status.Detail, StringComparison.Ordinal);
        await Eventually.UntilAsync(() => _stub.AbortedRequests == 1, "the stalled backend request was not aborted");
    }

    [Fact]
    public async Task A_long_answer_with_many_alternatives_is_read_whole()
    {
        await using var worker = Worker(maxRetries: 0);
        _stub.Tokens = [.. Enumerable.Range(0, 300).Select(i => new StubToken($" w{i}", -0.01 * (i % 7), [.. Enumerable.Range(0, 20).Select(a => ($" alt{i}-{a}", -0.5 - a))]))];

        var request = Request(chat: true, topLogprobs: 20);
        request.MaxTokens = 300;

        var response = await worker.Client.GenerateAsync(request);

        Assert.Equal(300, response.Tokens.Count);
        Assert.Equal(" w299", response.Tokens[^1].Token);
        Assert.Equal(" alt299-19", response.Tokens[^1].TopLogprobs[^1].Token);
        Assert.Equal(string.Concat(Enumerable.Range(0, 300).Select(i => $" w{i}")), response.Text);
    }

    [Fact]
    public async Task Cancelling_the_grpc_call_aborts_the_backend_request()
    {
        await using var worker = Worker(maxRetries: 0);
        _stub.Enqueue(new StubBehaviour.Hang());

        var error = await Assert.ThrowsAsync<RpcException>(() => worker.Client
            .GenerateAsync(Request(chat: true, topLogprobs: 1), deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (_stub.AbortedRequests == 0 && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, _stub.AbortedRequests);
    }

    [Fact]
    public async Task Disposing_a_stream_mid_answer_aborts_the_backend_request()
    {
        await using var worker = Worker(maxRetries: 0);
        _stub.Enqueue(new StubBehaviour.StreamThenWait(2));

        using (var call = worker.Client.GenerateStream(Request(chat: true, topLogprobs: 1)))
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal("Answer", call.ResponseStream.Current.Tokens[0].Token);
        }

        await Eventually.UntilAsync(() => _stub.AbortedRequests == 1, "the backend request was not aborted when the stream was disposed");
    }

    [Fact]
    public async Task A_stream_the_backend_breaks_fails_with_the_backends_status()
    {
        await using var worker = Worker(maxRetries: 0);
        _stub.Enqueue(new StubBehaviour.BreakAfter(2));

        using var call = worker.Client.GenerateStream(Request(chat: true, topLogprobs: 1));
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
            }
        });

        Assert.Contains("vllm backend", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(error.StatusCode, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Score_looks_candidates_up_among_the_first_tokens_alternatives()
    {
        await using var worker = Worker();
        _stub.Tokens = [new("Yes", -0.105360516, [("Yes", -0.105360516), ("No", -2.302585093), ("Maybe", -5.0)])];
        var request = new ScoreRequest { Prompt = "Is Paris the capital of France? Answer Yes or No:", Candidates = { "Yes", "No", "Perhaps" } };

        var response = await worker.Client.ScoreAsync(request);

        Assert.Equal(["Yes", "No", "Perhaps"], response.Candidates.Select(c => c.Candidate));
        Assert.Equal([-0.105360516, -2.302585093, -5.0], response.Candidates.Select(c => c.Logprob));
        Assert.Equal([true, true, false], response.Candidates.Select(c => c.InTopLogprobs));
        Assert.Equal(1, _stub.Requests.Last()["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Bad_requests_are_rejected_naming_the_field_before_the_backend_is_called()
    {
        await using var worker = Worker();
        var client = worker.Client;
        var tooMany = Request(chat: true, topLogprobs: 21);
        var empty = new GenerateRequest();
        var tooLong = new GenerateRequest { Prompt = new string('x', 40_000), MaxTokens = 10 };

        foreach (var (request, field) in new[] { (tooMany, "top_logprobs"), (empty, "messages"), (tooLong, "context length") })
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.GenerateAsync(request).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains(field, error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task Info_reports_the_deployment()
    {
        await using var worker = Worker();

        var info = await worker.Client.InfoAsync(new InfoRequest());

        Assert.Equal(("llama3.1-8b", "vllm", 8_000_000_000L, 8192), (info.Model, info.Backend, info.ParameterCount, info.ContextLength));
    }

    /// <summary>The worker, reached through the transport under test.</summary>
    protected abstract ITestWorker Worker(Dictionary<string, string?> settings);

    private ITestWorker Worker(int maxRetries = 2, string timeout = "00:00:30") => Worker(new Dictionary<string, string?>
    {
        ["Worker:Model"] = "llama3.1-8b",
        ["Worker:BackendModel"] = "meta-llama/Llama-3.1-8B-Instruct",
        ["Worker:Backend"] = "vllm",
        ["Worker:Endpoint"] = _stub.Address.ToString(),
        ["Worker:ParameterCount"] = "8000000000",
        ["Worker:ContextLength"] = "8192",
        ["Worker:MaxRetries"] = maxRetries.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Worker:RequestTimeout"] = timeout,
    });

    private static GenerateRequest Request(bool chat, int topLogprobs)
    {
        var request = new GenerateRequest { MaxTokens = 64, TopLogprobs = topLogprobs, Temperature = 0 };
        if (chat)
        {
            request.Messages.Add(new ChatMessage { Role = "user", Content = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn" });
        }
        else
        {
            request.Prompt = "Q: Which planet is known as the Red Planet?\nA:";
        }

        return request;
    }

    private static void AssertTokens(IReadOnlyList<StubToken> expected, IReadOnlyList<TokenLogprob> actual, int k)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Token, actual[i].Token);
            Assert.Equal(expected[i].Logprob, actual[i].Logprob);
            var top = expected[i].Top.Take(k).OrderByDescending(t => t.Logprob).ToList();
            Assert.Equal(top.Select(t => t.Token), actual[i].TopLogprobs.OrderByDescending(t => t.Logprob).Select(t => t.Token));
            Assert.Equal(top.Select(t => t.Logprob), actual[i].TopLogprobs.OrderByDescending(t => t.Logprob).Select(t => t.Logprob));
        }
    }
}

/// <summary>A worker under test and the Inference client that reaches it.</summary>
public interface ITestWorker : IAsyncDisposable
{
    Inference.InferenceClient Client { get; }
}

/// <summary>The worker host over a real gRPC channel on loopback.</summary>
public sealed class VllmWorkerOverGrpcTests : VllmBackendTests
{
    [Fact]
    public void A_bad_configuration_stops_start_up_naming_each_key()
    {
        using var worker = new GrpcServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["Worker:Model"] = "",
            ["Worker:Backend"] = "tgi",
            ["Worker:ContextLength"] = "0",
        });

        var message = worker.StartUpFailure();
        Assert.Contains("Worker:Model", message, StringComparison.Ordinal);
        Assert.Contains("Worker:Backend: 'tgi'", message, StringComparison.Ordinal);
        Assert.Contains("Worker:ContextLength", message, StringComparison.Ordinal);
    }

    protected override ITestWorker Worker(Dictionary<string, string?> settings) => new GrpcWorker(new GrpcServiceFactory<Program>(settings));

    private sealed class GrpcWorker(GrpcServiceFactory<Program> host) : ITestWorker
    {
        public Inference.InferenceClient Client { get; } = new(host.Channel);

        public ValueTask DisposeAsync() => host.DisposeAsync();
    }
}

/// <summary>The same worker in the caller's process, through <see cref="InProcessInference"/>, as the Gateway runs it.</summary>
public sealed class VllmWorkerInProcessTests : VllmBackendTests
{
    protected override ITestWorker Worker(Dictionary<string, string?> settings)
    {
        var options = new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(WorkerOptions.SectionName).Get<WorkerOptions>()!;
        Assert.Empty(WorkerOptionsValidator.Failures(options, WorkerOptions.SectionName));
        var backend = InferenceBackends.Create(options, NullLoggerFactory.Instance, TimeProvider.System);
        return new InProcessWorker(new Inference.InferenceClient(new InProcessInference(new InferenceService(backend), NullLogger.Instance)));
    }

    private sealed class InProcessWorker(Inference.InferenceClient client) : ITestWorker
    {
        public Inference.InferenceClient Client => client;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
