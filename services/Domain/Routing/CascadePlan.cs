using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Signals;

namespace Router.Domain.Routing;

/// <summary>A model the route may call, where it sits in the policy's chain, and what its tokens cost.</summary>
public sealed record PlannedStage(string Model, int ChainIndex, TokenPrice Price)
{
    /// <summary>The signal the policy's stage trusts (<see cref="PolicyArtifact.RecipeAt"/>).</summary>
    public SignalRecipe Recipe { get; init; } = SignalRecipe.Default;
}

/// <summary>
/// Everything a route is decided by, fixed before the first stage runs: the policy version it was
/// planned with (pinned: a version stored mid-request does not change this request), the mode, the
/// stages to call in order, the request's limits and the stage deadline.
/// </summary>
public sealed record CascadePlan(
    string Policy,
    string PolicyVersion,
    RoutingMode Mode,
    IReadOnlyList<string> Chain,
    IReadOnlyList<PlannedStage> Stages,
    EscalationPolicy? Rule,
    RequestLimits Limits,
    TimeSpan StageTimeout)
{
    /// <summary>Policy name of a request that names a model directly and skips routing.</summary>
    public const string DirectPolicy = "direct";

    /// <summary>The policy's whole chain priced, the top model last: the counterfactual every route is compared with.</summary>
    public required PlannedStage TopModel { get; init; }

    /// <summary>
    /// The recipe whose score decides <paramref name="call"/>: its stage's, when a threshold will be
    /// compared with the score (a routed stage before the last, with a policy in hand); otherwise the
    /// default, so no stage pays for verification prompts or samples nothing reads.
    /// </summary>
    public SignalRecipe RecipeFor(StageCall call) =>
        Mode != RoutingMode.Direct && Rule is not null && !call.IsLast ? call.Stage.Recipe : SignalRecipe.Default;
}

/// <summary>A model of the portfolio, in escalation order.</summary>
public sealed record PortfolioModel(string Name, TokenPrice Price);

/// <summary>
/// Turns what the Gateway knows before the first call into a <see cref="CascadePlan"/>: the
/// request's target, the pinned policy version (or that none could be read), the classifier's start
/// stage (or that it could not answer) and the portfolio.
/// </summary>
public static class CascadePlanner
{
    /// <summary>A request that names one model: that model answers, nothing is escalated.</summary>
    public static CascadePlan Direct(PortfolioModel model, IReadOnlyList<PortfolioModel> portfolio, RequestLimits limits, TimeSpan stageTimeout)
    {
        var stage = new PlannedStage(model.Name, 0, model.Price);
        var top = portfolio[^1];
        return new CascadePlan(CascadePlan.DirectPolicy, "-", RoutingMode.Direct, [model.Name], [stage], null, limits, stageTimeout)
        {
            TopModel = new PlannedStage(top.Name, 0, top.Price),
        };
    }

    /// <summary>
    /// A routed request. <paramref name="policy"/> null means the policy could not be read: the route
    /// then runs over the whole portfolio and escalates at every stage (the top model's accuracy is
    /// kept; cost is not). <paramref name="startStage"/> is the classifier's pick (pre-call, hybrid),
    /// null when it was not asked or could not answer (start at the cheapest).
    /// </summary>
    public static CascadePlan Routed(
        string policyName,
        PinnedPolicy? policy,
        RoutingMode mode,
        int? startStage,
        IReadOnlyList<PortfolioModel> portfolio,
        RequestLimits limits,
        TimeSpan stageTimeout)
    {
        if (mode == RoutingMode.Direct)
        {
            throw new ArgumentException("A direct request has no policy; plan it with Direct.", nameof(mode));
        }

        var chain = policy?.Artifact.Chain ?? [.. portfolio.Select(m => m.Name)];
        var priced = chain.Select((name, index) => new PlannedStage(name, index, PriceOf(portfolio, name)) { Recipe = policy?.Artifact.RecipeAt(index) ?? SignalRecipe.Default }).ToList();
        var start = Math.Clamp(startStage ?? 0, 0, priced.Count - 1);
        IReadOnlyList<PlannedStage> stages = mode switch
        {
            RoutingMode.PreCall => [priced[start]],
            RoutingMode.Hybrid => [.. priced.Skip(start)],
            _ => priced,
        };
        return new CascadePlan(policyName, policy?.Version ?? "unknown", mode, chain, stages, policy?.Artifact.ToPolicy(), limits, stageTimeout)
        {
            TopModel = priced[^1],
        };
    }

    /// <summary>Models of the chain the portfolio does not have, which make a policy unusable on this Gateway.</summary>
    public static IReadOnlyList<string> UnknownModels(PolicyArtifact policy, IReadOnlyList<PortfolioModel> portfolio) =>
        [.. policy.Chain.Where(name => portfolio.All(m => m.Name != name))];

    private static TokenPrice PriceOf(IReadOnlyList<PortfolioModel> portfolio, string name) =>
        portfolio.FirstOrDefault(m => m.Name == name)?.Price
            ?? throw new ArgumentException($"The chain names '{name}', which the portfolio does not have.", nameof(portfolio));
}

/// <summary>A policy version as the request was planned with it.</summary>
public sealed record PinnedPolicy(string Name, string Version, PolicyArtifact Artifact);
