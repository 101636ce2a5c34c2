using System.Text.Json;
using Router.Domain.Signals;

namespace Router.Domain.Policies;

/// <summary>
/// A stored policy: the chain, the thresholds, the scale the thresholds are on ("calibrated":
/// the Scoring service's P(correct), or "raw": the uncalibrated score), the target it was fitted to
/// and how it did on its fitting data. <see cref="Recipes"/> names per stage the signal the stage
/// trusts; a policy without them (every policy stored before recipes) trusts the mean log-prob everywhere.
/// </summary>
public sealed record PolicyArtifact(
    IReadOnlyList<string> Chain,
    IReadOnlyList<double> Thresholds,
    string ConfidenceScale,
    PolicyTarget? Target,
    string Method,
    double? RiskBound,
    double? AccuracyChangeOnFit,
    double? CostSavedOnFit)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Early escalation per stage but the last (<see cref="AbortRule"/>); absent in payloads stored before it existed, and then no stage aborts.</summary>
    public IReadOnlyList<AbortRule>? AbortRules { get; init; }

    /// <summary>One recipe per stage of <see cref="Chain"/> (the last stage's only scores its answer), or null for the default everywhere.</summary>
    public IReadOnlyList<SignalRecipe>? Recipes { get; init; }

    /// <summary>The recipe of a stage of <see cref="Chain"/>; the default where the policy names none.</summary>
    public SignalRecipe RecipeAt(int stage) => Recipes is { } recipes && stage < recipes.Count ? recipes[stage] ?? SignalRecipe.Default : SignalRecipe.Default;

    /// <summary>What is wrong with the recipes, each naming its field; empty when they are usable with the chain.</summary>
    public IReadOnlyList<string> RecipeProblems()
    {
        if (Recipes is null)
        {
            return [];
        }

        var problems = new List<string>();
        if (Recipes.Count != Chain.Count)
        {
            problems.Add($"recipes: needs one per stage of the chain ({Chain.Count}); got {Recipes.Count}.");
        }

        for (var i = 0; i < Recipes.Count; i++)
        {
            problems.AddRange(Recipes[i] is { } recipe ? recipe.Problems().Select(p => $"recipes:{i}: {p}") : [$"recipes:{i}: is missing."]);
        }

        return problems;
    }

    public EscalationPolicy ToPolicy() => new(Chain, Thresholds) { AbortRules = AbortRules };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static PolicyArtifact FromJson(string json) =>
        JsonSerializer.Deserialize<PolicyArtifact>(json, Json) ?? throw new JsonException("The policy payload is empty.");
}
