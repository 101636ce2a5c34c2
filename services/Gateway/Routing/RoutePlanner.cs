using Microsoft.Extensions.Options;
using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Gateway.Control;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>A request ready to route: its trace, the policy version it is pinned to (null: unreadable), or the one model it names.</summary>
public sealed record PlannedRoute(
    RoutingTrace Trace,
    PinnedPolicy? Policy,
    PortfolioModel? DirectModel,
    IReadOnlyList<PortfolioModel> Portfolio,
    RequestLimits Limits);

/// <summary>
/// Pins the policy version a request routes with, once, before anything runs: a request that names
/// a model is routed to it alone; an unknown policy is the caller's 404; a policy the Policy service
/// cannot tell about degrades the route (every stage escalates, the trace says why).
/// </summary>
public sealed class RoutePlanner(PolicyCatalog policies, RoutingTelemetry telemetry, IOptionsMonitor<PortfolioOptions> portfolio, IOptionsMonitor<RoutingOptions> routing)
{
    public async Task<PlannedRoute> PlanAsync(ValidatedChatRequest request, string requestId, CancellationToken cancellationToken)
    {
        var models = portfolio.CurrentValue.Models.OrderBy(m => m.Tier).Select(m => new PortfolioModel(m.Name, WorkerStage.Price(m))).ToList();
        var limits = new RequestLimits((double?)request.MaxCostUsd, request.MaxLatencyMs, request.MinConfidence);
        if (request.Target.DirectModel is { } direct)
        {
            var trace = new RoutingTrace { RequestId = requestId, Policy = CascadePlan.DirectPolicy, PolicyVersion = "-", Mode = RoutingMode.Direct, Chain = [direct] };
            return new PlannedRoute(trace, null, models.Single(m => m.Name == direct), models, limits);
        }

        var options = routing.CurrentValue;
        var name = request.Target.Policy is RouteTarget.AutoPolicy or null ? options.DefaultPolicy : request.Target.Policy;
        var planned = new RoutingTrace
        {
            RequestId = requestId,
            Policy = name,
            PolicyVersion = "unknown",
            Mode = request.Target.Mode ?? options.DefaultMode,
            Chain = [.. models.Select(m => m.Name)],
        };
        PolicyLookup lookup;
        using (telemetry.Time(planned, "policy"))
        {
            lookup = await policies.GetAsync(name, cancellationToken);
        }

        if (lookup.NotFound is { } notFound)
        {
            throw new RoutingException(StatusCodes.Status404NotFound, "invalid_request_error", "model", "policy_not_found", $"model names routing policy '{name}', which does not exist: {notFound}");
        }

        if (lookup.Policy is not { } policy)
        {
            planned.Notes.Add($"policy_unavailable: routing over the whole portfolio in tier order, escalating at every stage ({lookup.Unavailable})");
            return new PlannedRoute(planned, null, null, models, limits);
        }

        if (CascadePlanner.UnknownModels(policy.Artifact, models) is { Count: > 0 } unknown)
        {
            throw new RoutingException(
                StatusCodes.Status500InternalServerError,
                "api_error",
                "model",
                "policy_misconfigured",
                $"Policy '{name}' v{policy.Version} routes over {string.Join(", ", unknown)}, which this Gateway's portfolio does not have.");
        }

        planned.PolicyVersion = policy.Version;
        planned.Chain = policy.Artifact.Chain;
        return new PlannedRoute(planned, policy, null, models, limits);
    }
}
