using System.Text.Json;
using System.Text.Json.Serialization;
using Router.Domain.Signals;

namespace Router.Domain.Traces;

/// <summary>One generated token of a trace: the chosen token, its log-prob and the top alternatives returned with it.</summary>
public sealed record TraceToken(string Token, double Logprob, IReadOnlyList<TraceAlternative>? TopLogprobs = null);

public sealed record TraceAlternative(string Token, double Logprob);

public sealed record TraceUsage(int PromptTokens, int CompletionTokens);

/// <summary>
/// One model's answer to one prompt with its tokens: a line of the JSONL replay layout (README,
/// "Replay layouts"). The replay backend needs model, prompt and answer; token-level evaluation
/// (early escalation) also needs the query it answers (<see cref="QueryId"/>, which joins the models
/// of a chain), whether it was right, the prices and the generation speed, so a draft cut after t
/// tokens can be costed and timed. <see cref="Confidence"/> is the answer's confidence the acceptance
/// thresholds are compared with (for the simulated fleet, the answer token's probability); without
/// it, exp(mean token log-prob).
/// </summary>
public sealed record TokenTrace(
    string Model,
    string Prompt,
    string Answer,
    IReadOnlyList<TraceToken>? Tokens = null,
    TraceUsage? Usage = null,
    double? LatencyMs = null,
    string? QueryId = null,
    bool? Correct = null,
    double? Confidence = null,
    double? CostUsd = null,
    double? InputUsdPerMillionTokens = null,
    double? OutputUsdPerMillionTokens = null,
    double? TimeToFirstTokenMs = null,
    double? MsPerToken = null,
    bool? Simulated = null)
{
    /// <summary>The answer's tokens as the signals read them.</summary>
    public AttemptTokens Attempt()
    {
        var tokens = Tokens ?? [];
        return new AttemptTokens(
            [.. tokens.Select(t => t.Token)],
            [.. tokens.Select(t => t.Logprob)],
            [.. tokens.Select(t => (IReadOnlyList<(string, double)>)[.. (t.TopLogprobs ?? []).Select(a => (a.Token, a.Logprob))])]);
    }
}

/// <summary>Reads and writes <see cref="TokenTrace"/>s, one JSON object per line, snake_case, infinities as "-Infinity".</summary>
public static class TokenTraceJsonl
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>Every trace of the reader; a line that is not a trace throws naming <paramref name="source"/>, the line and the problem.</summary>
    public static IEnumerable<TokenTrace> Read(TextReader reader, string source)
    {
        var line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            TokenTrace? trace;
            try
            {
                trace = JsonSerializer.Deserialize<TokenTrace>(text, Options);
            }
            catch (JsonException e)
            {
                throw new FormatException($"{source}:{line}: {e.Message}", e);
            }

            yield return trace ?? throw new FormatException($"{source}:{line}: not a JSON object.");
        }
    }

    public static void Write(TextWriter writer, TokenTrace trace) => writer.WriteLine(JsonSerializer.Serialize(trace, Options));
}
