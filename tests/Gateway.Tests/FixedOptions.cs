using Microsoft.Extensions.Options;

namespace Router.Gateway.Tests;

/// <summary>Options that never change, for the Gateway's plain classes tested without a host.</summary>
public sealed class FixedOptions<T>(T options) : IOptionsMonitor<T>
{
    public T CurrentValue => options;

    public T Get(string? name) => options;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
