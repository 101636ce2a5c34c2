using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Router.AppHost;

/// <summary>
/// The model portfolio, declared once here (the "Portfolio" section of the AppHost's configuration,
/// cheapest model first) and handed from here to every service that needs it: one InferenceWorker per
/// model (or its worker in the Gateway's process: <see cref="ModelDeclaration.InGateway"/>), the
/// Gateway's portfolio (prices, tiers, context lengths), and the default policy's chain.
/// </summary>
public sealed class PortfolioDeclaration
{
    public const string SectionName = "Portfolio";

    public List<ModelDeclaration> Models { get; set; } = [];

    /// <summary>The default policy's acceptance threshold at every stage but the last, until a fitted policy is stored.</summary>
    public double DefaultThreshold { get; set; } = 0.9;

    public static PortfolioDeclaration Read(IConfiguration configuration)
    {
        var portfolio = configuration.GetSection(SectionName).Get<PortfolioDeclaration>() ?? new PortfolioDeclaration();
        var failures = portfolio.Validate();
        return failures.Count == 0
            ? portfolio
            : throw new InvalidOperationException("The AppHost's portfolio is invalid: " + string.Join(" ", failures));
    }

    /// <summary>The Gateway's portfolio as one setting (Portfolio__Json), so nothing merges into it index by index.</summary>
    public string GatewayJson() => JsonSerializer.Serialize(Models.Select((model, tier) => new
    {
        model.Name,
        Tier = tier,
        model.InputUsdPerMillionTokens,
        model.OutputUsdPerMillionTokens,
        model.ParameterCount,
        model.ContextLength,
        InProcess = model.InGateway ? new { model.Backend, model.Endpoint, model.BackendModel, model.TracePath } : null,
    }));

    private List<string> Validate()
    {
        var failures = new List<string>();
        if (Models.Count == 0)
        {
            failures.Add($"{SectionName}:Models: declare at least one model.");
        }

        if (DefaultThreshold is < 0 or > 1)
        {
            failures.Add($"{SectionName}:DefaultThreshold: must be within [0, 1], got {DefaultThreshold.ToString(CultureInfo.InvariantCulture)}.");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < Models.Count; i++)
        {
            var model = Models[i];
            var key = $"{SectionName}:Models:{i}";
            if (string.IsNullOrWhiteSpace(model.Name))
            {
                failures.Add($"{key}:Name: is required.");
            }
            else if (!names.Add(model.Name))
            {
                failures.Add($"{key}:Name: '{model.Name}' is declared twice.");
            }

            if (model.InputUsdPerMillionTokens is not >= 0 || model.OutputUsdPerMillionTokens is not >= 0)
            {
                failures.Add($"{key}: InputUsdPerMillionTokens and OutputUsdPerMillionTokens are required and must be >= 0.");
            }
        }

        return failures;
    }
}

/// <summary>One model: what it costs, and the backend its worker calls.</summary>
public sealed class ModelDeclaration
{
    public string Name { get; set; } = string.Empty;

    public decimal? InputUsdPerMillionTokens { get; set; }

    public decimal? OutputUsdPerMillionTokens { get; set; }

    public long? ParameterCount { get; set; }

    public int? ContextLength { get; set; }

    /// <summary>vllm | openai | azure-openai | simulated | replay (default simulated: no GPU needed).</summary>
    public string Backend { get; set; } = "simulated";

    /// <summary>Base URL of the backend's OpenAI-compatible API (vllm, openai, azure-openai).</summary>
    public string? Endpoint { get; set; }

    /// <summary>The model name the backend expects, when it differs from <see cref="Name"/>.</summary>
    public string? BackendModel { get; set; }

    /// <summary>Name of the AppHost parameter holding the backend's API key (a secret: Parameters:&lt;name&gt; in user secrets or the environment).</summary>
    public string? ApiKeyParameter { get; set; }

    /// <summary>Replay backend only: the recorded traces to serve.</summary>
    public string? TracePath { get; set; }

    /// <summary>Runs the model's worker inside the Gateway instead of as a process of its own (the Gateway's InProcess portfolio setting).</summary>
    public bool InGateway { get; set; }
}
