using Microsoft.Extensions.Options;

namespace Router.Gateway.Routing;

/// <summary>How the Gateway routes when a request does not say, bound from the "Routing" section.</summary>
public sealed class RoutingOptions
{
    public const string SectionName = "Routing";

    /// <summary>The Policy service's policy that `model: "auto"` means.</summary>
    public string DefaultPolicy { get; set; } = "default";

    /// <summary>The mode of `auto` and of requests that name a policy without a mode.</summary>
    public RoutingMode DefaultMode { get; set; } = RoutingMode.Cascade;

    /// <summary>Longest wait for one model's answer before the stage counts as failed.</summary>
    public TimeSpan StageTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Longest wait for Scoring, Policy or Classifier; they answer in milliseconds when healthy.</summary>
    public TimeSpan ControlTimeout { get; set; } = TimeSpan.FromSeconds(3);
}

public sealed class RoutingOptionsValidator : IValidateOptions<RoutingOptions>
{
    public ValidateOptionsResult Validate(string? name, RoutingOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DefaultPolicy))
        {
            failures.Add($"{RoutingOptions.SectionName}:DefaultPolicy: is required (the policy 'auto' routes with).");
        }

        if (!Enum.IsDefined(options.DefaultMode))
        {
            failures.Add($"{RoutingOptions.SectionName}:DefaultMode: must be Cascade, PreCall or Hybrid.");
        }

        if (options.StageTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:StageTimeout: must be positive, got {options.StageTimeout}.");
        }

        if (options.ControlTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:ControlTimeout: must be positive, got {options.ControlTimeout}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
