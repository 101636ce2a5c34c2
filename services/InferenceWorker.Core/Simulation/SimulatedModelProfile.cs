namespace Router.InferenceWorker.Simulation;

/// <summary>
/// How a simulated model behaves. Confidence is a latent logit z per answer, drawn around
/// logit(<see cref="Accuracy"/>) + <see cref="Overconfidence"/>, shifted up by half the
/// <see cref="Separation"/> for right answers and down for wrong ones (unit variance), so right and
/// wrong confidence overlap (seed 000) and the mean-logprob AUROC is about Phi(separation / sqrt 2).
/// Asked whether a proposed answer is correct, the model judges that answer with its own noise and
/// <see cref="VerificationSeparation"/> (default: <see cref="Separation"/>): self-verification can
/// separate right from wrong better than the answer's log-probs (seed 002), and the two combine.
/// </summary>
public sealed record SimulatedModelProfile(
    string Model,
    long ParameterCount,
    int ContextLength,
    double InputUsdPerMillionTokens,
    double OutputUsdPerMillionTokens,
    double Accuracy,
    double Separation,
    double Overconfidence,
    int ExplanationTokens,
    double TimeToFirstTokenMs,
    double MillisecondsPerToken)
{
    public double? VerificationSeparation { get; init; }

    /// <summary>The default fleet: three sizes matching the Gateway's default portfolio.</summary>
    public static IReadOnlyList<SimulatedModelProfile> Defaults { get; } =
    [
        new("llama3.1-8b", 8_000_000_000, 131_072, 0.18, 0.18, Accuracy: 0.62, Separation: 0.55, Overconfidence: 1.2, ExplanationTokens: 12, TimeToFirstTokenMs: 15, MillisecondsPerToken: 4) { VerificationSeparation = 0.9 },
        new("llama3.1-70b", 70_000_000_000, 131_072, 0.88, 0.88, Accuracy: 0.78, Separation: 1.0, Overconfidence: 0.6, ExplanationTokens: 12, TimeToFirstTokenMs: 40, MillisecondsPerToken: 12) { VerificationSeparation = 1.5 },
        new("gpt-4o", 0, 128_000, 2.5, 10.0, Accuracy: 0.88, Separation: 1.5, Overconfidence: 0.2, ExplanationTokens: 12, TimeToFirstTokenMs: 60, MillisecondsPerToken: 10) { VerificationSeparation = 2.0 },
    ];

    /// <summary>A profile for a model with no default: a mid-sized model.</summary>
    public static SimulatedModelProfile For(string model) =>
        Defaults.FirstOrDefault(p => p.Model == model) ?? Defaults[1] with { Model = model };
}
