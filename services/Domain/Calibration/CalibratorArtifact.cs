using System.Text.Json;

namespace Router.Domain.Calibration;

/// <summary>
/// The payload of a stored calibrator: which signal it reads and the fitted function. A calibrator
/// belongs to a (model, signal) pair, optionally per task family: named "&lt;model&gt;" (general) or
/// "&lt;model&gt;/&lt;task family&gt;" for the default signal (the geometric-mean probability, which
/// every calibrator stored before signal recipes reads), and with "#&lt;signal&gt;" appended for any
/// other (e.g. "llama3.1-8b/mmlu#p_true"); the Scoring service prefers the task family's.
/// </summary>
public sealed record CalibratorArtifact(string Signal, Calibrator Calibrator)
{
    // PostgreSQL's jsonb reorders keys, so the "kind" discriminator may come after the fields.
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowOutOfOrderMetadataProperties = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static CalibratorArtifact FromJson(string json) =>
        JsonSerializer.Deserialize<CalibratorArtifact>(json, Json) ?? throw new JsonException("The calibrator payload is empty.");

    /// <summary>Separates the signal from the model (and task family) in a name; model names never contain it.</summary>
    public const char SignalSeparator = '#';

    public static string Name(string model, string? taskFamily) => string.IsNullOrEmpty(taskFamily) ? model : $"{model}/{taskFamily}";

    /// <summary>The name of the calibrator of <paramref name="signal"/> (a recipe's <see cref="Signals.SignalRecipe.CalibratorSignal"/>).</summary>
    public static string Name(string model, string? taskFamily, string signal) =>
        signal == Signals.SignalNames.GeometricMeanProbability ? Name(model, taskFamily) : $"{Name(model, taskFamily)}{SignalSeparator}{signal}";

    /// <summary>A stored name without its signal part: "&lt;model&gt;" or "&lt;model&gt;/&lt;task family&gt;".</summary>
    public static string Owner(string name) => name.Split(SignalSeparator)[0];
}
