using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Router.Gateway.Routing;

/// <summary>
/// A breaker per dependency the router can route without (Redis, Policy, Classifier, Scoring): after
/// Routing:CircuitFailureThreshold consecutive failures or timeouts the dependency is skipped for
/// Routing:CircuitBreakDuration, so a frozen dependency costs a few requests one bounded wait each
/// and then nothing; after the break the next call tries it again. Open breakers are named on /health.
/// </summary>
public sealed partial class DependencyBreakers(IOptionsMonitor<RoutingOptions> routing, TimeProvider time, ILogger<DependencyBreakers> logger) : IHealthCheck
{
    public const string HealthCheckName = "dependencies";
    public const string Cache = "cache";
    public const string Policy = "policy";
    public const string Classifier = "classifier";
    public const string Scoring = "scoring";

    private readonly ConcurrentDictionary<string, Breaker> _breakers = new(StringComparer.Ordinal);

    /// <summary>Null when the dependency may be called; otherwise why it is skipped.</summary>
    public string? Refusal(string dependency)
    {
        if (!_breakers.TryGetValue(dependency, out var breaker))
        {
            return null;
        }

        lock (breaker)
        {
            return breaker.OpenUntil is { } until && time.GetUtcNow() < until
                ? $"{dependency} skipped until {until:O} after {breaker.Failures} consecutive failures (last: {breaker.LastError})"
                : null;
        }
    }

    public void Succeeded(string dependency)
    {
        if (_breakers.TryGetValue(dependency, out var breaker))
        {
            lock (breaker)
            {
                (breaker.Failures, breaker.OpenUntil, breaker.LastError) = (0, null, null);
            }
        }
    }

    public void Failed(string dependency, string error)
    {
        var breaker = _breakers.GetOrAdd(dependency, _ => new Breaker());
        var options = routing.CurrentValue;
        lock (breaker)
        {
            breaker.Failures++;
            breaker.LastError = error;
            if (breaker.Failures >= options.CircuitFailureThreshold)
            {
                breaker.OpenUntil = time.GetUtcNow() + options.CircuitBreakDuration;
                LogOpened(logger, dependency, breaker.Failures, options.CircuitBreakDuration, error);
            }
        }
    }

    /// <summary>
    /// Runs one call to <paramref name="dependency"/> within <paramref name="timeout"/>; a failure or
    /// timeout counts against its breaker and yields <paramref name="fallback"/> (the caller degrades).
    /// </summary>
    public async Task<(T Value, string? Failure)> CallAsync<T>(string dependency, TimeSpan timeout, Func<CancellationToken, Task<T>> call, T fallback, CancellationToken cancellationToken)
    {
        if (Refusal(dependency) is { } refusal)
        {
            return (fallback, refusal);
        }

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            var value = await call(bounded.Token).WaitAsync(bounded.Token);
            Succeeded(dependency);
            return (value, null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is Grpc.Core.RpcException or OperationCanceledException or TimeoutException or StackExchange.Redis.RedisException)
        {
            var error = e is OperationCanceledException ? $"no answer within {timeout.TotalMilliseconds:0} ms" : e.Message;
            Failed(dependency, error);
            return (fallback, $"{dependency} unavailable: {error}");
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var open = _breakers.Keys.Order(StringComparer.Ordinal).Select(Refusal).OfType<string>().ToList();
        return Task.FromResult(open.Count == 0
            ? HealthCheckResult.Healthy("every dependency answers")
            : HealthCheckResult.Degraded(string.Join(" ", open)));
    }

    private sealed class Breaker
    {
        public int Failures { get; set; }

        public DateTimeOffset? OpenUntil { get; set; }

        public string? LastError { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Dependency} is skipped for {Break} after {Failures} consecutive failures (last: {Error}); routing degrades")]
    private static partial void LogOpened(ILogger logger, string dependency, int failures, TimeSpan @break, string error);
}
