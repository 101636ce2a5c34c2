using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Gateway.Routing;

namespace Router.Gateway.Control;

/// <summary>What the catalog knows of a policy name: a version to route with, or why there is none.</summary>
public sealed record PolicyLookup(PinnedPolicy? Policy, string? NotFound, string? Unavailable);

/// <summary>
/// The policy versions the Gateway routes with, read from the Policy service (which owns fitting,
/// storing and versions) and evaluated here, as feature-flag SDKs evaluate their service's rules
/// locally: a request pins the version it was planned with, and no request waits on the Policy
/// service but the first one for a name (bounded by Routing:ControlTimeout and a breaker). Versions
/// are read again every Routing:ControlRefreshInterval in the background.
/// </summary>
public sealed partial class PolicyCatalog(
    DownstreamClients clients,
    DependencyBreakers breakers,
    IOptionsMonitor<RoutingOptions> routing,
    TimeProvider time,
    ILogger<PolicyCatalog> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, PinnedPolicy> _pinned = new(StringComparer.Ordinal);

    public async Task<PolicyLookup> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (_pinned.TryGetValue(name, out var known))
        {
            return new PolicyLookup(known, null, null);
        }

        var (lookup, failure) = await breakers.CallAsync<PolicyLookup?>(
            DependencyBreakers.Policy,
            routing.CurrentValue.ControlTimeout,
            async token => await DescribeAsync(name, token),
            null,
            cancellationToken);
        return lookup ?? new PolicyLookup(null, null, failure);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(routing.CurrentValue.ControlRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            foreach (var name in _pinned.Keys)
            {
                var (lookup, failure) = await breakers.CallAsync(DependencyBreakers.Policy, routing.CurrentValue.ControlTimeout, async token => await DescribeAsync(name, token), null, stoppingToken);
                if (lookup?.NotFound is not null)
                {
                    _pinned.TryRemove(name, out _);
                }
                else if (failure is not null)
                {
                    LogRefreshFailed(logger, name, failure);
                }
            }
        }
    }

    private async Task<PolicyLookup> DescribeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var description = await clients.Policy.DescribeAsync(new DescribePolicyRequest { Policy = name }, cancellationToken: cancellationToken);
            var artifact = description.ArtifactJson.Length > 0
                ? PolicyArtifact.FromJson(description.ArtifactJson)
                : new PolicyArtifact([.. description.Chain], [.. description.Thresholds], "calibrated", null, description.FittedOn, null, null, null);
            var pinned = new PinnedPolicy(description.Policy, description.Version.ToString(CultureInfo.InvariantCulture), artifact);
            if (_pinned.TryGetValue(name, out var previous) && previous.Version != pinned.Version)
            {
                LogNewVersion(logger, name, previous.Version, pinned.Version);
            }

            _pinned[name] = pinned;
            return new PolicyLookup(pinned, null, null);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return new PolicyLookup(null, e.Status.Detail, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Policy {Name}: routing with version {Version} (was {Previous})")]
    private static partial void LogNewVersion(ILogger logger, string name, string previous, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Policy {Name} could not be read again ({Failure}); routing with the version in hand")]
    private static partial void LogRefreshFailed(ILogger logger, string name, string failure);
}
