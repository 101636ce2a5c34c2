using Microsoft.Extensions.Options;
using Router.Domain.Policies;

namespace Router.PolicyService;

/// <summary>Policies used while none of that name is stored in the ledger ("Policy:Defaults:&lt;name&gt;").</summary>
public sealed class PolicyOptions
{
    public const string SectionName = "Policy";

    public Dictionary<string, DefaultPolicy> Defaults { get; set; } = [];

    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class DefaultPolicy
{
    public List<string> Chain { get; set; } = [];

    public List<double> Thresholds { get; set; } = [];

    public EscalationPolicy ToPolicy() => new(Chain, Thresholds);
}

public sealed class PolicyOptionsValidator : IValidateOptions<PolicyOptions>
{
    public ValidateOptionsResult Validate(string? name, PolicyOptions options)
    {
        var failures = new List<string>();
        foreach (var (policy, settings) in options.Defaults)
        {
            failures.AddRange(settings.ToPolicy().Problems().Select(p => $"{PolicyOptions.SectionName}:Defaults:{policy}:{Capitalise(p)}"));
        }

        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            failures.Add($"{PolicyOptions.SectionName}:RefreshInterval: must be positive, got {options.RefreshInterval}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Capitalise(string problem) => char.ToUpperInvariant(problem[0]) + problem[1..];
}
