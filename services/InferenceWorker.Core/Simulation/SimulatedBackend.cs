using System.Diagnostics;
using System.Runtime.CompilerServices;
using Router.Contracts;
using Router.Contracts.Backends;

namespace Router.InferenceWorker.Simulation;

/// <summary>A model without a GPU: answers from <see cref="SimulatedModel"/>, sleeping for the profile's latencies. Every response says it is simulated.</summary>
public sealed class SimulatedBackend(SimulatedModel model, bool simulateLatency, TimeProvider time) : IInferenceBackend
{
    public string Name => "simulated";

    public ModelInfo Info { get; } = new()
    {
        Model = model.Profile.Model,
        Backend = "simulated",
        ParameterCount = model.Profile.ParameterCount,
        ContextLength = model.Profile.ContextLength,
        InputUsdPerMillionTokens = model.Profile.InputUsdPerMillionTokens,
        OutputUsdPerMillionTokens = model.Profile.OutputUsdPerMillionTokens,
        Simulated = true,
        MaxTopLogprobs = 20,
    };

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var answer = Answer(request);
        await SleepAsync(model.Profile.TimeToFirstTokenMs + model.Profile.MillisecondsPerToken * answer.Tokens.Count, cancellationToken);
        var response = new GenerateResponse
        {
            Model = model.Profile.Model,
            Text = answer.Text,
            FinishReason = answer.FinishReason,
            Usage = new TokenUsage { PromptTokens = answer.PromptTokens, CompletionTokens = answer.Tokens.Count },
            Latency = Latency(started, model.Profile.TimeToFirstTokenMs),
            Backend = Name,
            Simulated = true,
        };
        response.Tokens.AddRange(answer.Tokens.Select(ToProto));
        return response;
    }

    public async IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var answer = Answer(request);
        await SleepAsync(model.Profile.TimeToFirstTokenMs, cancellationToken);
        var firstToken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        foreach (var token in answer.Tokens)
        {
            yield return new GenerateChunk { Text = token.Text, Tokens = { ToProto(token) }, Model = model.Profile.Model, Backend = Name, Simulated = true };
            await SleepAsync(model.Profile.MillisecondsPerToken, cancellationToken);
        }

        yield return new GenerateChunk
        {
            FinishReason = answer.FinishReason,
            Usage = new TokenUsage { PromptTokens = answer.PromptTokens, CompletionTokens = answer.Tokens.Count },
            Latency = new BackendLatency { TimeToFirstTokenMs = firstToken, TotalMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds },
            Model = model.Profile.Model,
            Backend = Name,
            Simulated = true,
        };
    }

    public async Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var prompt = PromptText(request.Messages, request.Prompt);
        await SleepAsync(model.Profile.TimeToFirstTokenMs, cancellationToken);
        var response = new ScoreResponse
        {
            Model = model.Profile.Model,
            Usage = new TokenUsage { PromptTokens = SimulatedModel.EstimateTokens(prompt), CompletionTokens = 1 },
            Latency = Latency(started, model.Profile.TimeToFirstTokenMs),
            Simulated = true,
        };
        response.Candidates.AddRange(model.Score(prompt, request.Candidates).Select(c => new CandidateScore { Candidate = c.Candidate, Logprob = c.Logprob, InTopLogprobs = c.InTop }));
        return response;
    }

    /// <summary>The prompt as one text: chat turns joined, so the same question finds the same answer either way.</summary>
    public static string PromptText(IEnumerable<ChatMessage> messages, string prompt)
    {
        var turns = string.Join("\n", messages.Select(m => m.Content));
        return turns.Length > 0 ? turns : prompt;
    }

    private SimulatedAnswer Answer(GenerateRequest request) =>
        model.Generate(PromptText(request.Messages, request.Prompt), request.HasSeed ? request.Seed : 0, request.MaxTokens > 0 ? request.MaxTokens : 512, request.TopLogprobs, request.Stop);

    private static TokenLogprob ToProto(SimulatedToken token)
    {
        var proto = new TokenLogprob { Token = token.Text, Logprob = token.Logprob };
        proto.TopLogprobs.AddRange(token.Top.Select(t => new TokenAlternative { Token = t.Token, Logprob = t.Logprob }));
        return proto;
    }

    private static BackendLatency Latency(long started, double firstTokenMs)
    {
        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return new BackendLatency { TimeToFirstTokenMs = Math.Min(firstTokenMs, total), TotalMs = total };
    }

    private Task SleepAsync(double milliseconds, CancellationToken cancellationToken) =>
        simulateLatency && milliseconds > 0 ? Task.Delay(TimeSpan.FromMilliseconds(milliseconds), time, cancellationToken) : Task.CompletedTask;
}
