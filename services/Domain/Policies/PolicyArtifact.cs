using System.Text.Json;

namespace Router.Domain.Policies;

/// <summary>
/// A stored policy: the chain, the thresholds, the scale the thresholds are on ("calibrated":
/// the Scoring service's P(correct), or "raw": exp(mean log-prob)), the target it was fitted to
/// and how it did on its fitting data.
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

    public EscalationPolicy ToPolicy() => new(Chain, Thresholds) { AbortRules = AbortRules };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static PolicyArtifact FromJson(string json) =>
        JsonSerializer.Deserialize<PolicyArtifact>(json, Json) ?? throw new JsonException("The policy payload is empty.");
}
