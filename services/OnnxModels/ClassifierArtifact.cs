using System.Text.Json;

namespace Router.OnnxModels;

/// <summary>A stored pre-call classifier: the ONNX bytes and what it was measured at.</summary>
public sealed record ClassifierArtifact(string OnnxBase64, IReadOnlyList<string> Models, IReadOnlyDictionary<string, double> HeldOutAuroc)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public byte[] Onnx => Convert.FromBase64String(OnnxBase64);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ClassifierArtifact FromJson(string json) =>
        JsonSerializer.Deserialize<ClassifierArtifact>(json, Json) ?? throw new JsonException("The classifier payload is empty.");
}
