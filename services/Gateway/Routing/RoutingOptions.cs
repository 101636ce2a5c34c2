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

    /// <summary>How long a policy's chain is reused before the Policy service is asked again; zero asks on every request.</summary>
    public TimeSpan PolicyCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failures (unavailable, timed out, internal error) after which a worker is skipped.</summary>
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long a worker whose circuit opened is skipped before one trial request is let through.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often every worker is asked which model it serves (a dead or wrong worker shows on /health).</summary>
    public TimeSpan WorkerCheckInterval { get; set; } = TimeSpan.FromSeconds(10);
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

        if (options.PolicyCacheTtl < TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:PolicyCacheTtl: must be zero or positive, got {options.PolicyCacheTtl}.");
        }

        if (options.CircuitFailureThreshold < 1)
        {
            failures.Add($"{RoutingOptions.SectionName}:CircuitFailureThreshold: must be at least 1, got {options.CircuitFailureThreshold}.");
        }

        if (options.CircuitBreakDuration <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:CircuitBreakDuration: must be positive, got {options.CircuitBreakDuration}.");
        }

        if (options.WorkerCheckInterval <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:WorkerCheckInterval: must be positive, got {options.WorkerCheckInterval}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
