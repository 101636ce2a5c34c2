using Microsoft.Extensions.Options;
using Router.Domain.Routing;

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

    /// <summary>Longest wait for Policy or Classifier on a request's path; they answer in milliseconds when healthy.</summary>
    public TimeSpan ControlTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the policy versions and calibrators the Gateway evaluates locally are read again from
    /// the Policy and Scoring services (in the background: requests never wait for it).
    /// </summary>
    public TimeSpan ControlRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait for Redis (response cache, rate limits): the cache is an optimisation, so a slow one is skipped.</summary>
    public TimeSpan CacheTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

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

        if (!Enum.IsDefined(options.DefaultMode) || options.DefaultMode == RoutingMode.Direct)
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

        if (options.ControlRefreshInterval <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:ControlRefreshInterval: must be positive, got {options.ControlRefreshInterval}.");
        }

        if (options.CacheTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{RoutingOptions.SectionName}:CacheTimeout: must be positive, got {options.CacheTimeout}.");
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
