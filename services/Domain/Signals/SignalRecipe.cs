using System.Globalization;
using Router.Domain.Costs;

namespace Router.Domain.Signals;

/// <summary>Expected calls of one kind and their tokens, for pricing a stage before it runs.</summary>
public sealed record ExtraCallEstimate(string Kind, int Calls, long PromptTokens, long CompletionTokens)
{
    public decimal CostUsd(TokenPrice price) => price.Cost(PromptTokens, CompletionTokens);
}

/// <summary>
/// Which signal a stage of a policy trusts, and so what the stage must gather: a log-prob aggregate
/// of the answer (no extra call), answer-option P(T) or "Answer"-format confidence (no extra call),
/// P(True) (one self-verification call), P(IK) (one "do you know" call, made before the answer),
/// self-consistency over <see cref="Samples"/> answers at <see cref="SampleTemperature"/>, or
/// <see cref="Fused"/>: a logistic score over the logits of several signals' scores, with the
/// weights fitted on labelled traces (<see cref="Weights"/>: intercept first, then one per input).
/// Serialised in a policy's JSON; the default is the mean token log-prob, what every stage trusted
/// before recipes existed.
/// </summary>
public sealed record SignalRecipe
{
    public const string Fused = "fused";

    public const double DefaultSampleTemperature = 0.7;

    /// <summary>The token log-prob signals that need nothing but the answer.</summary>
    public static IReadOnlyList<string> AnswerOnlySignals { get; } =
    [
        SignalNames.MeanLogprob, SignalNames.GeometricMeanProbability, SignalNames.BottomGroupConfidence, SignalNames.LowestGroupConfidence,
        SignalNames.TailConfidence, SignalNames.MinMaxProbability, SignalNames.P10MaxProbability, SignalNames.MedianMaxProbability,
        SignalNames.AnswerOptionProbability, SignalNames.AnswerFormatConfidence,
    ];

    /// <summary>Every signal a recipe can read, in the order candidates are declared: the answer's own signals first, then those that cost calls.</summary>
    public static IReadOnlyList<string> RecipeSignals { get; } =
        [.. AnswerOnlySignals, SignalNames.PTrue, SignalNames.PIk, SignalNames.Agreement, SignalNames.AnswerEntropy];

    public static SignalRecipe Default { get; } = new();

    /// <summary>A signal name of <see cref="RecipeSignals"/>, or <see cref="Fused"/>.</summary>
    public string Signal { get; init; } = SignalNames.MeanLogprob;

    /// <summary>Fused only: the signals combined.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>Fused only: [intercept, one weight per input] over logit(score of each input).</summary>
    public IReadOnlyList<double> Weights { get; init; } = [];

    /// <summary>Answers sampled for agreement or answer entropy (0 when the recipe reads neither).</summary>
    public int Samples { get; init; }

    public double SampleTemperature { get; init; } = DefaultSampleTemperature;

    public static SignalRecipe Single(string signal, int samples = 0) => new() { Signal = signal, Samples = samples };

    public static SignalRecipe Fuse(IReadOnlyList<string> inputs, IReadOnlyList<double> weights, int samples = 0) =>
        new() { Signal = Fused, Inputs = inputs, Weights = weights, Samples = samples };

    public bool IsFused => Signal == Fused;

    /// <summary>The signals the recipe's score is computed from.</summary>
    public IReadOnlyList<string> SignalsRead => IsFused ? Inputs : [Signal];

    /// <summary>
    /// Stable name of what the recipe measures (weights aside), e.g. "p_true", "agreement[m=5]",
    /// "fused(mean_logprob,p_true)": what calibrators are fitted and looked up for.
    /// </summary>
    public string Key
    {
        get
        {
            var name = IsFused ? $"{Fused}({string.Join(',', Inputs)})" : Signal;
            return NeedsSamples ? $"{name}[m={Samples.ToString(CultureInfo.InvariantCulture)}]" : name;
        }
    }

    /// <summary>
    /// The signal a stored calibrator of this recipe reads (<see cref="Calibration.CalibratorArtifact.Signal"/>): the
    /// mean log-prob's is the geometric-mean probability, as every calibrator stored before recipes reads.
    /// </summary>
    public string CalibratorSignal => Key == SignalNames.MeanLogprob ? SignalNames.GeometricMeanProbability : Key;

    public bool NeedsSelfVerification => SignalsRead.Contains(SignalNames.PTrue);

    public bool NeedsDoYouKnow => SignalsRead.Contains(SignalNames.PIk);

    public bool NeedsSamples => SignalsRead.Any(s => s is SignalNames.Agreement or SignalNames.AnswerEntropy);

    /// <summary>
    /// P(IK) alone is known before the model answers: the stage asks it first and escalates without
    /// generating when it is low, so an escalation there costs only the question.
    /// </summary>
    public bool BeforeAnswer => SignalsRead.Count > 0 && SignalsRead.All(s => s == SignalNames.PIk);

    /// <summary>The kinds of extra calls (<see cref="ExtraCallKinds"/>) the stage makes.</summary>
    public IReadOnlyList<string> ExtraCalls =>
    [
        .. NeedsSelfVerification ? [ExtraCallKinds.SelfVerification] : Array.Empty<string>(),
        .. NeedsDoYouKnow ? [ExtraCallKinds.DoYouKnow] : Array.Empty<string>(),
        .. NeedsSamples ? [ExtraCallKinds.Sample] : Array.Empty<string>(),
    ];

    /// <summary>
    /// Expected extra calls of a query with <paramref name="promptTokens"/> prompt tokens whose answer
    /// has (or is expected to have) <paramref name="answerTokens"/> tokens: the questions repeat the
    /// prompt (and the answer, for self-verification) in the templates of <see cref="ExtraCallPrompts"/>
    /// and are answered with one token; each sample is another answer.
    /// </summary>
    public IReadOnlyList<ExtraCallEstimate> EstimateExtraCalls(int promptTokens, int answerTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(answerTokens);
        var estimates = new List<ExtraCallEstimate>();
        if (NeedsSelfVerification)
        {
            estimates.Add(new(ExtraCallKinds.SelfVerification, 1, promptTokens + answerTokens + ExtraCallPrompts.SelfVerificationTemplateTokens, 1));
        }

        if (NeedsDoYouKnow)
        {
            estimates.Add(new(ExtraCallKinds.DoYouKnow, 1, promptTokens + ExtraCallPrompts.DoYouKnowTemplateTokens, 1));
        }

        if (NeedsSamples)
        {
            estimates.Add(new(ExtraCallKinds.Sample, Samples, (long)Samples * promptTokens, (long)Samples * answerTokens));
        }

        return estimates;
    }

    /// <summary>
    /// The seed of sampled answer <paramref name="index"/> of a request: distinct per sample (equal
    /// seeds would draw the same answer and fake agreement), reproducible from the request's seed, or
    /// from its id when the caller gave none.
    /// </summary>
    public static long SampleSeed(long? requestSeed, string requestId, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var root = requestSeed ?? (BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(requestId))) & long.MaxValue);
        return unchecked(root + index + 1);
    }

    /// <summary>What the stage's extra calls are expected to cost at the model's price.</summary>
    public decimal EstimateExtraCostUsd(TokenPrice price, int promptTokens, int answerTokens) =>
        EstimateExtraCalls(promptTokens, answerTokens).Sum(e => e.CostUsd(price));

    /// <summary>What is wrong with the recipe, each naming its field; empty when it is usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (IsFused)
        {
            if (Inputs.Count == 0)
            {
                problems.Add("inputs: a fused recipe needs at least one input signal.");
            }

            if (Inputs.Distinct(StringComparer.Ordinal).Count() != Inputs.Count)
            {
                problems.Add("inputs: a signal appears twice.");
            }

            problems.AddRange(Inputs.Where(i => !RecipeSignals.Contains(i)).Select(i => $"inputs: '{i}' is not a signal a recipe can read ({string.Join(", ", RecipeSignals)})."));
            if (Weights.Count != Inputs.Count + 1)
            {
                problems.Add($"weights: needs {Inputs.Count + 1} (an intercept, then one per input); got {Weights.Count}.");
            }

            if (Weights.Any(w => !double.IsFinite(w)))
            {
                problems.Add("weights: must be finite numbers.");
            }
        }
        else
        {
            if (!RecipeSignals.Contains(Signal))
            {
                problems.Add($"signal: '{Signal}' is not a signal a recipe can read ({string.Join(", ", RecipeSignals)}) or '{Fused}'.");
            }

            if (Inputs.Count > 0 || Weights.Count > 0)
            {
                problems.Add("inputs/weights: only a fused recipe has them.");
            }
        }

        if (NeedsSamples ? Samples < 1 : Samples != 0)
        {
            problems.Add(NeedsSamples ? $"samples: agreement and answer entropy need at least 1 sample; got {Samples}." : $"samples: must be 0 when the recipe reads no sampled answers; got {Samples}.");
        }

        if (double.IsNaN(SampleTemperature) || SampleTemperature is <= 0 or > 2)
        {
            problems.Add($"sample_temperature: must be in (0, 2]; got {SampleTemperature}.");
        }

        return problems;
    }
}
