using Router.InferenceWorker;

namespace Router.Gateway.Portfolio;

/// <summary>
/// The models the router may answer with, bound from the "Portfolio" configuration section. A
/// deployment declares it in one place: <c>Portfolio:Json</c> (the whole list as a JSON array, as
/// the AppHost and the Bicep pass it) replaces <c>Portfolio:Models</c> entirely, so a model removed
/// from a deployment cannot linger through an array index.
/// </summary>
public sealed class PortfolioOptions
{
    public const string SectionName = "Portfolio";

    public List<ModelDeploymentOptions> Models { get; set; } = [];

    /// <summary>The portfolio as a JSON array of models (property names as in <see cref="ModelDeploymentOptions"/>, any case).</summary>
    public string? Json { get; set; }

    /// <summary>
    /// The backend keys of models whose worker runs in the Gateway, by model name
    /// (<c>Portfolio:ApiKeys:gpt-4o</c>, from a secret store): kept out of the portfolio, which
    /// deployments pass around in plain configuration. A key in the model's own InProcess settings wins.
    /// </summary>
    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Why <see cref="Json"/> could not be read, reported by the validator with the key.</summary>
    internal string? JsonError { get; private set; }

    /// <summary>The portfolio of a configuration, as the options system binds it (used before the container is built).</summary>
    public static PortfolioOptions From(IConfiguration configuration)
    {
        var options = new PortfolioOptions();
        configuration.GetSection(SectionName).Bind(options);
        options.ApplyJson();
        return options;
    }

    internal void ApplyJson()
    {
        ParseJson();
        foreach (var model in Models)
        {
            if (model.InProcess is { } worker && string.IsNullOrEmpty(worker.ApiKey) && ApiKeys.TryGetValue(model.Name, out var key))
            {
                worker.ApiKey = key;
            }
        }
    }

    private void ParseJson()
    {
        if (string.IsNullOrWhiteSpace(Json))
        {
            return;
        }

        try
        {
            Models = System.Text.Json.JsonSerializer.Deserialize<List<ModelDeploymentOptions>>(Json, JsonOptions)
                ?? throw new System.Text.Json.JsonException("the value is null; expected an array of models");
        }
        catch (System.Text.Json.JsonException e)
        {
            Models = [];
            JsonError = e.Message;
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new() { PropertyNameCaseInsensitive = true };
}

/// <summary>One deployed model: its position in the escalation order and what a token costs on it.</summary>
public sealed class ModelDeploymentOptions
{
    /// <summary>Identifier clients and the ledger use, e.g. "llama3.1-8b".</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Escalation order: 0 is the cheapest, tried first; each model has its own tier.</summary>
    public int? Tier { get; set; }

    public decimal? InputUsdPerMillionTokens { get; set; }

    public decimal? OutputUsdPerMillionTokens { get; set; }

    /// <summary>Parameter count of a self-hosted model (compute ~ 2N FLOPs per token); unknown for most API models.</summary>
    public long? ParameterCount { get; set; }

    public int? ContextLength { get; set; }

    /// <summary>
    /// Service name of the InferenceWorker serving this model (its address is read from
    /// `services:&lt;worker&gt;:grpc:0`); default: "worker-" and the model name with every
    /// character other than a letter or digit replaced by '-', e.g. "worker-llama3-1-8b".
    /// </summary>
    public string? Worker { get; set; }

    public string WorkerService => string.IsNullOrWhiteSpace(Worker) ? Router.Contracts.ServiceNames.Worker(Name) : Worker;

    /// <summary>
    /// Runs this model's worker inside the Gateway instead of calling an InferenceWorker over gRPC:
    /// a worker's backend settings (Backend, Endpoint, BackendModel, ApiKey, RequestTimeout,
    /// MaxRetries, ...) as in the worker's "Worker" section; the model id, context length, parameter
    /// count and prices are this entry's. Worth it where the worker would only relay HTTP (vLLM,
    /// OpenAI): the answer's tokens then cross the network once instead of twice.
    /// </summary>
    public WorkerOptions? InProcess { get; set; }

    /// <summary>
    /// The in-process worker's settings with the model's own figures (id, sizes, prices) from this
    /// entry; null when the model has a worker process of its own.
    /// </summary>
    public WorkerOptions? InProcessWorker()
    {
        if (InProcess is not { } backend)
        {
            return null;
        }

        var worker = backend.Copy();
        worker.Model = Name;
        worker.ParameterCount = ParameterCount ?? backend.ParameterCount;
        worker.ContextLength = ContextLength ?? backend.ContextLength;
        worker.InputUsdPerMillionTokens = (double)(InputUsdPerMillionTokens ?? 0);
        worker.OutputUsdPerMillionTokens = (double)(OutputUsdPerMillionTokens ?? 0);
        return worker;
    }
}
