using Microsoft.Extensions.Options;

namespace Router.InferenceWorker;

/// <summary>The one model deployment this worker serves and how to reach it, bound from the "Worker" section.</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Worker";

    public static readonly string[] Backends = ["vllm", "openai", "azure-openai", "simulated", "replay"];

    /// <summary>Model id as the portfolio names it (and, for vllm, as the server names it unless <see cref="BackendModel"/> is set).</summary>
    public string Model { get; set; } = string.Empty;

    /// <summary>vllm | openai | azure-openai | simulated | replay.</summary>
    public string Backend { get; set; } = string.Empty;

    /// <summary>Base URL of the backend's OpenAI-compatible API, e.g. http://localhost:8000 (vllm).</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>Model name the backend expects, when it differs from <see cref="Model"/> (e.g. "meta-llama/Llama-3.1-8B-Instruct").</summary>
    public string? BackendModel { get; set; }

    public string? ApiKey { get; set; }

    public long ParameterCount { get; set; }

    public int ContextLength { get; set; } = 8192;

    public double InputUsdPerMillionTokens { get; set; }

    public double OutputUsdPerMillionTokens { get; set; }

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Retries of calls that failed before any output (429, 503, connection refused).</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>Simulated backend only: sleep for the profile's latencies (false = answer at once, for benchmarks).</summary>
    public bool SimulateLatency { get; set; } = true;

    /// <summary>Replay backend only: a cascade-traces traces.csv (prompts.csv beside it) or a JSONL trace file.</summary>
    public string? TracePath { get; set; }

    /// <summary>A copy of every setting, to complete without touching the bound options.</summary>
    public WorkerOptions Copy() => (WorkerOptions)MemberwiseClone();
}

public sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var failures = Failures(options, WorkerOptions.SectionName);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>What is wrong with a worker's settings, each failure naming its key under <paramref name="key"/>.</summary>
    /// <param name="apiKeySetting">Where a deployment sets the key, named when it is missing (default: <paramref name="key"/>'s ApiKey as an environment variable).</param>
    public static List<string> Failures(WorkerOptions options, string key, string? apiKeySetting = null)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Model))
        {
            failures.Add($"{key}:Model: is required (the portfolio's model id, e.g. llama3.1-8b).");
        }

        if (!WorkerOptions.Backends.Contains(options.Backend))
        {
            failures.Add($"{key}:Backend: '{options.Backend}' is not a backend; use one of {string.Join(", ", WorkerOptions.Backends)}.");
        }

        if (options.Backend is "vllm" or "azure-openai" && options.Endpoint is not { IsAbsoluteUri: true, Scheme: "http" or "https" })
        {
            failures.Add($"{key}:Endpoint: is required for the {options.Backend} backend: e.g. http://localhost:8000 (vLLM) or https://<resource>.openai.azure.com/openai/v1/ (Azure OpenAI).");
        }

        if (options.Backend is "openai" or "azure-openai" && string.IsNullOrEmpty(options.ApiKey) && options.Endpoint?.IsLoopback != true)
        {
            failures.Add($"{key}:ApiKey: is required for the {options.Backend} backend (set {apiKeySetting ?? key.Replace(":", "__", StringComparison.Ordinal) + "__ApiKey"} from a secret store).");
        }

        if (options.Backend == "replay" && (string.IsNullOrWhiteSpace(options.TracePath) || !File.Exists(options.TracePath)))
        {
            failures.Add($"{key}:TracePath: is required for the replay backend and must exist; got '{options.TracePath}'.");
        }

        if (options.ContextLength <= 0)
        {
            failures.Add($"{key}:ContextLength: must be positive, got {options.ContextLength}.");
        }

        if (options.ParameterCount < 0)
        {
            failures.Add($"{key}:ParameterCount: must be >= 0, got {options.ParameterCount}.");
        }

        if (options.InputUsdPerMillionTokens < 0 || options.OutputUsdPerMillionTokens < 0)
        {
            failures.Add($"{key}:InputUsdPerMillionTokens/OutputUsdPerMillionTokens: must be >= 0.");
        }

        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{key}:RequestTimeout: must be positive, got {options.RequestTimeout}.");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            failures.Add($"{key}:MaxRetries: must be between 0 and 10, got {options.MaxRetries}.");
        }

        return failures;
    }
}
