using System.Text.Json;
using Grpc.Core;
using Router.Contracts;
using Router.Domain.Policies;
using Router.Domain.Routing;
using DomainLimits = Router.Domain.Policies.RequestLimits;

namespace Router.PolicyService;

/// <summary>Accept, escalate or stop after each stage, by the named policy's latest version.</summary>
public sealed class PolicyGrpcService(PolicyRegistry registry) : Router.Contracts.Policy.PolicyBase
{
    public override async Task<DecideResponse> Decide(DecideRequest request, ServerCallContext context)
    {
        var active = await FindAsync(request.Policy, request.PolicyVersion, context.CancellationToken);
        var policy = active.Artifact.ToPolicy();
        if (request.Chain.Count > 0 && !request.Chain.SequenceEqual(policy.Chain))
        {
            throw Invalid("chain", $"[{string.Join(", ", request.Chain)}] is not policy '{active.Name}' v{active.Version}'s chain [{string.Join(", ", policy.Chain)}]; send the chain from Describe, or none.");
        }

        if (request.Stage < 0 || request.Stage >= policy.Chain.Count)
        {
            throw Invalid("stage", $"must be between 0 and {policy.Chain.Count - 1}; got {request.Stage}.");
        }

        if (double.IsNaN(request.PCorrect) || request.PCorrect is < 0 or > 1)
        {
            throw Invalid("p_correct", $"must be a probability in [0, 1]; got {request.PCorrect}.");
        }

        if (request.SpentUsd < 0 || request.ElapsedMs < 0 || request.NextStageCostUsd < 0)
        {
            throw Invalid("spent_usd/elapsed_ms/next_stage_cost_usd", "must be >= 0.");
        }

        var limits = request.Limits ?? new Router.Contracts.RequestLimits();
        if ((limits.HasMaxCostUsd && limits.MaxCostUsd < 0) || (limits.HasMaxLatencyMs && limits.MaxLatencyMs <= 0) || (limits.HasMinConfidence && limits.MinConfidence is < 0 or > 1))
        {
            throw Invalid("limits", "max_cost_usd must be >= 0, max_latency_ms > 0 and min_confidence in [0, 1].");
        }

        var decision = policy.Decide(
            request.Stage,
            request.PCorrect,
            request.SpentUsd,
            request.ElapsedMs,
            new DomainLimits(limits.HasMaxCostUsd ? limits.MaxCostUsd : null, limits.HasMaxLatencyMs ? limits.MaxLatencyMs : null, limits.HasMinConfidence ? limits.MinConfidence : null),
            request.NextStageCostUsd);
        return new DecideResponse
        {
            Decision = decision.Decision switch
            {
                PolicyDecision.Accept => Decision.Accept,
                PolicyDecision.Stop => Decision.Stop,
                _ => Decision.Escalate,
            },
            Reason = decision.Reason.Wire(),
            Threshold = decision.Threshold,
            Policy = active.Name,
            PolicyVersion = active.Version,
        };
    }

    public override async Task<PolicyDescription> Describe(DescribePolicyRequest request, ServerCallContext context)
    {
        var active = await FindAsync(request.Policy, request.Version, context.CancellationToken);
        return new PolicyDescription
        {
            Policy = active.Name,
            Version = active.Version,
            Chain = { active.Artifact.Chain },
            Thresholds = { active.Artifact.Thresholds },
            TargetJson = active.Artifact.Target is null ? string.Empty : JsonSerializer.Serialize(active.Artifact.Target, PolicyArtifact.Json),
            FittedOn = active.Artifact.Method,
            ArtifactJson = active.Artifact.ToJson(),
        };
    }

    private async Task<ActivePolicy> FindAsync(string name, int version, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Invalid("policy", "is required.");
        }

        if (version < 0)
        {
            throw Invalid("policy_version", $"must be a stored version, or 0 for the latest; got {version}.");
        }

        return await registry.FindAsync(name, version, cancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, version == 0
                ? $"policy '{name}' does not exist; known: {string.Join(", ", registry.Names)}."
                : $"policy '{name}' has no version {version}."));
    }

    private static RpcException Invalid(string field, string problem) => new(new Status(StatusCode.InvalidArgument, $"{field} {problem}"));
}
