namespace Router.Gateway.Portfolio;

/// <summary>The models the router may answer with, bound from the "Portfolio" configuration section.</summary>
public sealed class PortfolioOptions
{
    public const string SectionName = "Portfolio";

    public List<ModelDeploymentOptions> Models { get; set; } = [];
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
}
