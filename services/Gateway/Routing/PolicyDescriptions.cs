using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Router.Contracts;

namespace Router.Gateway.Routing;

/// <summary>
/// The chains of the Policy service's policies, kept for Routing:PolicyCacheTtl: a policy changes
/// when someone fits a new version, not per request, so paying a Policy round trip on every
/// request only to learn the chain doubles that hop. A Decide answer that names a newer version
/// drops the entry at once; failures are not kept, so an unknown or unreachable policy is asked
/// about again on the next request.
/// </summary>
public sealed class PolicyDescriptions(DownstreamClients clients, IOptionsMonitor<RoutingOptions> routing, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (PolicyDescription Description, DateTimeOffset Expires)> _entries = new(StringComparer.Ordinal);

    public async Task<PolicyDescription> DescribeAsync(string policy, DateTime deadline, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(policy, out var entry) && entry.Expires > now)
        {
            return entry.Description;
        }

        var description = await clients.Policy.DescribeAsync(new DescribePolicyRequest { Policy = policy }, deadline: deadline, cancellationToken: cancellationToken);
        var ttl = routing.CurrentValue.PolicyCacheTtl;
        if (ttl > TimeSpan.Zero)
        {
            _entries[policy] = (description, now + ttl);
        }

        return description;
    }

    /// <summary>Drops the cached description when the Policy service has moved past its version.</summary>
    public void Observe(string policy, int version)
    {
        if (_entries.TryGetValue(policy, out var entry) && entry.Description.Version != version)
        {
            _entries.TryRemove(policy, out _);
        }
    }
}
