using System.Runtime.CompilerServices;
using Grpc.Core;
using Router.Contracts;
using Router.Contracts.Backends;
using Router.Domain.Traces;
using Router.InferenceWorker.Simulation;

namespace Router.InferenceWorker.Backends;

/// <summary>One recorded answer of the model: text, tokens (with log-probs when recorded), usage and latency.</summary>
public sealed record RecordedAnswer(string Answer, IReadOnlyList<TokenLogprob> Tokens, int PromptTokens, int CompletionTokens, double LatencyMs);

/// <summary>
/// Serves recorded real outputs: the same prompt gets the model's recorded answer, tokens, usage
/// and latency. Two layouts: the cascade-traces CSV (traces.csv with prompts.csv beside it; one
/// recorded confidence per answer, served as the answer's log-prob) and the project's JSONL
/// (one object per line with per-token log-probs, see README).
/// </summary>
public sealed class ReplayBackend : IInferenceBackend
{
    private readonly Dictionary<string, RecordedAnswer> _answers;
    private readonly string _source;

    public ReplayBackend(WorkerOptions options)
    {
        _source = options.TracePath ?? throw new InvalidOperationException("Worker:TracePath is required for the replay backend.");
        _answers = _source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? ReadJsonl(_source, options.Model) : ReadCascadeCsv(_source, options.Model);
        if (_answers.Count == 0)
        {
            throw new InvalidOperationException($"Worker:TracePath '{_source}' has no recorded answers of model '{options.Model}' (Worker:Model).");
        }

        Info = new ModelInfo
        {
            Model = options.Model,
            Backend = "replay",
            ParameterCount = options.ParameterCount,
            ContextLength = options.ContextLength,
            InputUsdPerMillionTokens = options.InputUsdPerMillionTokens,
            OutputUsdPerMillionTokens = options.OutputUsdPerMillionTokens,
        };
    }

    public string Name => "replay";

    public ModelInfo Info { get; }

    public int Count => _answers.Count;

    public Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        var recorded = Find(request);
        var response = new GenerateResponse
        {
            Model = Info.Model,
            Text = recorded.Answer,
            FinishReason = "stop",
            Usage = new TokenUsage { PromptTokens = recorded.PromptTokens, CompletionTokens = recorded.CompletionTokens },
            Latency = new BackendLatency { TimeToFirstTokenMs = recorded.LatencyMs, TotalMs = recorded.LatencyMs },
            Backend = Name,
        };
        response.Tokens.AddRange(recorded.Tokens);
        return Task.FromResult(response);
    }

    public async IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var response = await GenerateAsync(request, cancellationToken);
        foreach (var token in response.Tokens)
        {
            yield return new GenerateChunk { Text = token.Token, Tokens = { token }, Model = response.Model, Backend = Name };
        }

        // CSV traces record no tokens: the whole answer is one chunk.
        if (response.Tokens.Count == 0)
        {
            yield return new GenerateChunk { Text = response.Text, Model = response.Model, Backend = Name };
        }

        yield return new GenerateChunk { FinishReason = response.FinishReason, Usage = response.Usage, Latency = response.Latency, Model = response.Model, Backend = Name };
    }

    public Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, $"replay backend ({_source}) recorded answers, not next-token distributions: Score is not available."));

    private RecordedAnswer Find(GenerateRequest request)
    {
        var prompt = Key(request.Messages.Count > 0 ? request.Messages.Last(m => m.Role == "user").Content : request.Prompt);
        return _answers.TryGetValue(prompt, out var recorded)
            ? recorded
            : throw new RpcException(new Status(StatusCode.NotFound, $"replay backend: {_source} has no recorded answer of {Info.Model} to this prompt."));
    }

    private static string Key(string prompt) => prompt.Trim();

    private static Dictionary<string, RecordedAnswer> ReadCascadeCsv(string tracesPath, string model)
    {
        var promptsPath = Path.Combine(Path.GetDirectoryName(tracesPath) ?? ".", "prompts.csv");
        using var promptReader = File.OpenText(promptsPath);
        var prompts = CascadePrompt.ReadCsv(promptReader).ToDictionary(p => (p.Benchmark, p.Split, p.QueryIndex), p => p.UserPrompt);
        using var traceReader = File.OpenText(tracesPath);
        var answers = new Dictionary<string, RecordedAnswer>(StringComparer.Ordinal);
        foreach (var trace in CascadeTrace.ReadCsv(traceReader).Where(t => t.Model == model))
        {
            if (prompts.TryGetValue((trace.Benchmark, trace.Split, trace.QueryIndex), out var prompt))
            {
                answers.TryAdd(Key(prompt), new RecordedAnswer(
                    trace.Answer,
                    [new TokenLogprob { Token = trace.Answer, Logprob = trace.RawConfidence }],
                    trace.TokensIn,
                    trace.TokensOut,
                    trace.LatencyMs));
            }
        }

        return answers;
    }

    private static Dictionary<string, RecordedAnswer> ReadJsonl(string path, string model)
    {
        var answers = new Dictionary<string, RecordedAnswer>(StringComparer.Ordinal);
        using var reader = File.OpenText(path);
        foreach (var record in TokenTraceJsonl.Read(reader, path).Where(r => r.Model == model))
        {
            var tokens = (record.Tokens ?? []).Select(t =>
            {
                var token = new TokenLogprob { Token = t.Token, Logprob = t.Logprob };
                token.TopLogprobs.AddRange((t.TopLogprobs ?? []).Select(a => new TokenAlternative { Token = a.Token, Logprob = a.Logprob }));
                return token;
            }).ToList();
            answers.TryAdd(Key(record.Prompt), new RecordedAnswer(record.Answer, tokens, record.Usage?.PromptTokens ?? SimulatedModel.EstimateTokens(record.Prompt), record.Usage?.CompletionTokens ?? tokens.Count, record.LatencyMs ?? 0));
        }

        return answers;
    }
}
