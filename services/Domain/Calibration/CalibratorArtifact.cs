using System.Text.Json;

namespace Router.Domain.Calibration;

/// <summary>
/// The payload of a stored calibrator: which signal it reads and the fitted function. Named
/// "&lt;model&gt;" (general) or "&lt;model&gt;/&lt;task family&gt;"; the Scoring service prefers the latter.
/// </summary>
public sealed record CalibratorArtifact(string Signal, Calibrator Calibrator)
{
    // PostgreSQL's jsonb reorders keys, so the "kind" discriminator may come after the fields.
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowOutOfOrderMetadataProperties = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static CalibratorArtifact FromJson(string json) =>
        JsonSerializer.Deserialize<CalibratorArtifact>(json, Json) ?? throw new JsonException("The calibrator payload is empty.");

    public static string Name(string model, string? taskFamily) => string.IsNullOrEmpty(taskFamily) ? model : $"{model}/{taskFamily}";
}
