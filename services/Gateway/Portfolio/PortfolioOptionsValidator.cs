using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Router.InferenceWorker;

namespace Router.Gateway.Portfolio;

/// <summary>
/// Rejects a portfolio the router could not route over, naming the configuration key at fault
/// (e.g. "Portfolio:Models:1:Tier"), so a bad deployment fails at start-up, not on the first request.
/// </summary>
public sealed partial class PortfolioOptionsValidator : IValidateOptions<PortfolioOptions>
{
    public ValidateOptionsResult Validate(string? name, PortfolioOptions options)
    {
        var failures = new List<string>();
        if (options.JsonError is { } jsonError)
        {
            return ValidateOptionsResult.Fail($"{PortfolioOptions.SectionName}:Json: is not a JSON array of models: {jsonError}");
        }

        var models = PortfolioOptions.SectionName + ":Models";
        if (options.Models.Count == 0)
        {
            failures.Add($"{models}: at least one model must be configured.");
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var tiers = new Dictionary<int, string>();
        for (var i = 0; i < options.Models.Count; i++)
        {
            var model = options.Models[i];
            var key = $"{models}:{i}";
            if (string.IsNullOrWhiteSpace(model.Name))
            {
                failures.Add($"{key}:Name: is required.");
            }
            else if (!ModelName().IsMatch(model.Name))
            {
                failures.Add($"{key}:Name: '{model.Name}' may contain only letters, digits and . _ - / : (1-128 characters).");
            }
            else if (!names.Add(model.Name))
            {
                failures.Add($"{key}:Name: '{model.Name}' is configured twice.");
            }

            if (model.Tier is not { } tier)
            {
                failures.Add($"{key}:Tier: is required (0 = cheapest, tried first).");
            }
            else if (tier < 0)
            {
                failures.Add($"{key}:Tier: must be >= 0, got {tier}.");
            }
            else if (!tiers.TryAdd(tier, model.Name))
            {
                failures.Add($"{key}:Tier: {tier} is already the tier of '{tiers[tier]}'; each model needs its own tier.");
            }

            RequirePrice(failures, $"{key}:InputUsdPerMillionTokens", model.InputUsdPerMillionTokens);
            RequirePrice(failures, $"{key}:OutputUsdPerMillionTokens", model.OutputUsdPerMillionTokens);
            if (model.ParameterCount is <= 0)
            {
                failures.Add($"{key}:ParameterCount: must be positive when set, got {model.ParameterCount}.");
            }

            if (model.ContextLength is <= 0)
            {
                failures.Add($"{key}:ContextLength: must be positive when set, got {model.ContextLength}.");
            }

            if (model.InProcessWorker() is { } inProcess)
            {
                if (!string.IsNullOrWhiteSpace(model.Worker))
                {
                    failures.Add($"{key}:Worker: names the worker service '{model.Worker}', but {key}:InProcess runs the model's worker in the Gateway; set one of them.");
                }

                failures.AddRange(WorkerOptionsValidator.Failures(inProcess, $"{key}:InProcess", $"{PortfolioOptions.SectionName}__ApiKeys__{model.Name}").Where(f => !f.StartsWith($"{key}:InProcess:Model:", StringComparison.Ordinal)));
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void RequirePrice(List<string> failures, string key, decimal? price)
    {
        if (price is null)
        {
            failures.Add($"{key}: is required (USD per million tokens; 0 is allowed).");
        }
        else if (price < 0)
        {
            failures.Add($"{key}: must be >= 0, got {price}.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._/:-]{1,128}$")]
    private static partial Regex ModelName();
}
