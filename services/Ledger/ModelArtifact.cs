namespace Router.Ledger;

/// <summary>
/// A fitted, versioned piece of routing state (a calibrator, a policy's thresholds, a classifier):
/// immutable once written, so every ledger row can name the exact version it used.
/// </summary>
public sealed class ModelArtifact
{
    public long Id { get; set; }

    /// <summary>What it is: see <see cref="ArtifactKinds"/>.</summary>
    public required string Kind { get; set; }

    /// <summary>What it is for: a model name for a calibrator, a policy name for a policy.</summary>
    public required string Name { get; set; }

    /// <summary>1, 2, 3... per (Kind, Name).</summary>
    public int Version { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The data it was fitted on (file, split, query count) and the target it was fitted to, as JSON.</summary>
    public required string Provenance { get; set; }

    /// <summary>The artifact itself as JSON (the fitted parameters).</summary>
    public required string Payload { get; set; }
}

public static class ArtifactKinds
{
    public const string Calibrator = "calibrator";
    public const string Policy = "policy";
    public const string Classifier = "classifier";
}
