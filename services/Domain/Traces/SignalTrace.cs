using System.Text.Json;
using System.Text.Json.Serialization;
using Router.Domain.Signals;

namespace Router.Domain.Traces;

/// <summary>What the extra calls of one kind cost for one attempt: how many, their tokens, price and time.</summary>
public sealed record ExtraCallRecord(int Calls, int PromptTokens, int CompletionTokens, double CostUsd, double LatencyMs);

/// <summary>
/// One model's labelled answer to one query with every signal it was measured with, and the extra
/// calls (<see cref="ExtraCallKinds"/>) that some of the signals needed: the multi-signal trace a
/// policy's recipes are chosen on. <see cref="CostUsd"/>, <see cref="LatencyMs"/> and the token
/// counts are the answer's own. Stored one JSON object a line (JSONL); a signal that was undefined
/// for the answer (NaN) is left out of <see cref="Signals"/>.
/// </summary>
public sealed record SignalTrace(
    string Benchmark,
    string Split,
    [property: JsonPropertyName("query_idx")] int QueryIndex,
    string Model,
    string Answer,
    bool Correct,
    int TokensIn,
    int TokensOut,
    double CostUsd,
    double LatencyMs,
    IReadOnlyDictionary<string, double> Signals,
    IReadOnlyDictionary<string, ExtraCallRecord> ExtraCalls)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>Cost and time of the extra calls <paramref name="recipe"/> makes, as recorded (0 for a kind the trace did not record).</summary>
    public (double CostUsd, double LatencyMs) ExtraFor(SignalRecipe recipe) =>
        recipe.ExtraCalls.Select(kind => ExtraCalls.GetValueOrDefault(kind)).Aggregate((0.0, 0.0), (sum, call) => (sum.Item1 + (call?.CostUsd ?? 0), sum.Item2 + (call?.LatencyMs ?? 0)));

    public string ToJsonLine()
    {
        var finite = Signals.Where(s => double.IsFinite(s.Value)).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal);
        return JsonSerializer.Serialize(this with { Signals = finite }, Json);
    }

    public static void WriteJsonl(TextWriter writer, IEnumerable<SignalTrace> traces)
    {
        foreach (var trace in traces)
        {
            writer.WriteLine(trace.ToJsonLine());
        }
    }

    /// <summary>Reads JSONL, skipping blank lines; a line that is not a trace stops the read naming its number.</summary>
    public static IEnumerable<SignalTrace> ReadJsonl(TextReader reader)
    {
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            SignalTrace? trace;
            try
            {
                trace = JsonSerializer.Deserialize<SignalTrace>(line, Json);
            }
            catch (JsonException e)
            {
                throw new FormatException($"JSONL line {number}: {e.Message}", e);
            }

            yield return trace is { Benchmark: not null, Model: not null, Signals: not null, ExtraCalls: not null }
                ? trace
                : throw new FormatException($"JSONL line {number}: needs benchmark, model, signals and extra_calls.");
        }
    }

    /// <summary>
    /// A recorded cascade trace as a one-signal trace: its raw confidence is the answer's mean
    /// log-prob (multiple choice) or P(True) = P("Yes") of self-verification (open-ended benchmarks).
    /// The extra call's cost is not recorded separately there.
    /// </summary>
    public static SignalTrace FromCascade(CascadeTrace trace)
    {
        var signal = trace.ConfidenceSignal.Contains("self_verification", StringComparison.Ordinal)
            ? (SignalNames.PTrue, trace.RawProbability)
            : (SignalNames.MeanLogprob, trace.RawConfidence);
        return new SignalTrace(
            trace.Benchmark, trace.Split, trace.QueryIndex, trace.Model, trace.Answer, trace.Correct, trace.TokensIn, trace.TokensOut, trace.CostUsd, trace.LatencyMs,
            new Dictionary<string, double> { [signal.Item1] = signal.Item2 },
            new Dictionary<string, ExtraCallRecord>());
    }
}
