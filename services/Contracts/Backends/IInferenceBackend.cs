namespace Router.Contracts.Backends;

/// <summary>
/// What an InferenceWorker needs from a model backend (vLLM, OpenAI, Azure OpenAI, simulated,
/// replay). Backends speak the stable gRPC message types so the worker host stays a thin
/// adapter and a new backend never changes the wire contract.
/// </summary>
public interface IInferenceBackend
{
    /// <summary>The backend kind as configured, e.g. "vllm" or "simulated"; named in errors.</summary>
    string Name { get; }

    /// <summary>The deployment this worker serves.</summary>
    ModelInfo Info { get; }

    Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken);

    IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, CancellationToken cancellationToken);

    Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken);
}
