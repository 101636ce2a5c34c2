using Grpc.Core;
using Router.Contracts;
using Router.Contracts.Backends;
using Router.InferenceWorker.Backends;
using Router.InferenceWorker.Simulation;

namespace Router.InferenceWorker;

/// <summary>
/// The worker's face: checks each request against the Inference contract, then hands it to the
/// configured backend. Served over gRPC by the InferenceWorker, or called in the Gateway's process
/// through <see cref="InProcessInference"/>.
/// </summary>
public sealed class InferenceService(IInferenceBackend backend) : Inference.InferenceBase
{
    public const int MaxTopLogprobs = 20;

    public override Task<GenerateResponse> Generate(GenerateRequest request, ServerCallContext context) =>
        GenerateAsync(request, context.CancellationToken);

    public override async Task GenerateStream(GenerateRequest request, IServerStreamWriter<GenerateChunk> responseStream, ServerCallContext context)
    {
        await foreach (var chunk in GenerateStreamAsync(request, context.CancellationToken))
        {
            await responseStream.WriteAsync(chunk, context.CancellationToken);
        }
    }

    public override Task<ScoreResponse> Score(ScoreRequest request, ServerCallContext context) => ScoreAsync(request, context.CancellationToken);

    public override Task<ModelInfo> Info(InfoRequest request, ServerCallContext context) => Task.FromResult(backend.Info);

    /// <summary>The model this worker serves.</summary>
    public ModelInfo ModelInfo => backend.Info;

    /// <summary>Checks the request, then generates; a request the contract refuses throws InvalidArgument before the backend sees it.</summary>
    public Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        return backend.GenerateAsync(request, cancellationToken);
    }

    public IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        return backend.GenerateStreamAsync(request, cancellationToken);
    }

    public Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        RequirePrompt(request.Messages, request.Prompt);
        if (request.Candidates.Count == 0 || request.Candidates.Any(string.IsNullOrEmpty))
        {
            throw Invalid("candidates", "must hold at least one non-empty candidate string (e.g. \"Yes\", \"No\").");
        }

        CheckContext(request.Messages, request.Prompt, 1);
        return backend.ScoreAsync(request, cancellationToken);
    }

    private void Validate(GenerateRequest request)
    {
        RequirePrompt(request.Messages, request.Prompt);
        if (request.MaxTokens < 0)
        {
            throw Invalid("max_tokens", $"must be >= 0 (0 = the worker's default); got {request.MaxTokens}.");
        }

        if (request.TopLogprobs is < 0 or > MaxTopLogprobs)
        {
            throw Invalid("top_logprobs", $"must be between 0 and {MaxTopLogprobs}; got {request.TopLogprobs}.");
        }

        if (request.HasTemperature && (!float.IsFinite(request.Temperature) || request.Temperature is < 0 or > 2))
        {
            throw Invalid("temperature", $"must be between 0 and 2; got {request.Temperature}.");
        }

        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (string.IsNullOrEmpty(request.Messages[i].Role))
            {
                throw Invalid($"messages[{i}].role", "is required.");
            }
        }

        CheckContext(request.Messages, request.Prompt, request.MaxTokens);
    }

    /// <summary>
    /// Rejects prompts that cannot fit before calling the backend. The estimate (4 characters per
    /// token) errs low for English, so the backend's own check still catches the rest.
    /// </summary>
    private void CheckContext(IEnumerable<ChatMessage> messages, string prompt, int maxTokens)
    {
        var estimated = SimulatedModel.EstimateTokens(SimulatedBackend.PromptText(messages, prompt));
        if (estimated + Math.Max(0, maxTokens) > backend.Info.ContextLength)
        {
            throw BackendErrors.ContextLengthExceeded(
                $"{backend.Name} backend for {backend.Info.Model}: the prompt (~{estimated} tokens) plus max_tokens ({maxTokens}) exceeds the context length of {backend.Info.ContextLength} tokens.");
        }
    }

    private static void RequirePrompt(ICollection<ChatMessage> messages, string prompt)
    {
        if (messages.Count == 0 && string.IsNullOrEmpty(prompt))
        {
            throw Invalid("messages", "or prompt is required.");
        }
    }

    private static RpcException Invalid(string field, string problem) => new(new Status(StatusCode.InvalidArgument, $"{field} {problem}"));
}
