using Microsoft.Extensions.Options;

namespace Router.Gateway.Access;

public enum AccessMode
{
    /// <summary>Every /v1 call needs a team's API key (Authorization: Bearer).</summary>
    Keys,

    /// <summary>No keys: for a developer's machine only. Requests are recorded without a team.</summary>
    Open,
}

/// <summary>Who may call the Gateway, bound from the "Access" section.</summary>
public sealed class AccessOptions
{
    public const string SectionName = "Access";

    public AccessMode Mode { get; set; } = AccessMode.Keys;

    /// <summary>Secret for the /admin API (teams and keys); the admin API is off when it is not set.</summary>
    public string? AdminKey { get; set; }

    /// <summary>How long a key lookup, a team's spend and its limits are reused before PostgreSQL is asked again.</summary>
    public TimeSpan CacheFor { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class AccessOptionsValidator : IValidateOptions<AccessOptions>
{
    public ValidateOptionsResult Validate(string? name, AccessOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"{AccessOptions.SectionName}:Mode: must be Keys or Open.");
        }

        if (options.AdminKey is { Length: > 0 and < 24 })
        {
            failures.Add($"{AccessOptions.SectionName}:AdminKey: must be at least 24 characters; generate one with `openssl rand -base64 32`.");
        }

        if (options.CacheFor < TimeSpan.Zero || options.CacheFor > TimeSpan.FromMinutes(5))
        {
            failures.Add($"{AccessOptions.SectionName}:CacheFor: must be between 0 and 5 minutes, got {options.CacheFor}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
