using System.Globalization;

namespace Router.Domain.Traces;

/// <summary>
/// One model's recorded answer to one query (the layout of shared/data/cascade-traces/traces.csv).
/// <see cref="RawConfidence"/> is a log-probability: mean answer-token log-prob for multiple choice,
/// log P(Yes) of self-verification for open-ended benchmarks (see <see cref="ConfidenceSignal"/>);
/// -infinity where extraction failed.
/// </summary>
public sealed record CascadeTrace(
    string Benchmark,
    string Split,
    int QueryIndex,
    string Chain,
    string Model,
    string Answer,
    bool Correct,
    double RawConfidence,
    string ConfidenceSignal,
    int TokensIn,
    int TokensOut,
    double CostUsd,
    double LatencyMs)
{
    /// <summary>exp(<see cref="RawConfidence"/>): the raw probability calibrators start from; 0 where extraction failed (-infinity).</summary>
    public double RawProbability => double.IsNegativeInfinity(RawConfidence) ? 0 : Math.Exp(RawConfidence);

    public static readonly string[] Columns =
    [
        "benchmark", "split", "query_idx", "chain", "model", "answer", "correct", "raw_confidence",
        "conf_signal", "tokens_in", "tokens_out", "cost_usd", "latency_ms",
    ];

    public static IEnumerable<CascadeTrace> ReadCsv(TextReader reader) =>
        CsvReader.ReadWithHeader(reader, Columns).Select(row => new CascadeTrace(
            row["benchmark"],
            row["split"],
            ParseInt(row, "query_idx"),
            row["chain"],
            row["model"],
            row["answer"],
            ParseInt(row, "correct") switch
            {
                0 => false,
                1 => true,
                var other => throw new FormatException($"CSV row {row.Row}: 'correct' must be 0 or 1, got {other}."),
            },
            ParseDouble(row, "raw_confidence"),
            row["conf_signal"],
            ParseInt(row, "tokens_in"),
            ParseInt(row, "tokens_out"),
            ParseDouble(row, "cost_usd"),
            ParseDouble(row, "latency_ms")));

    private static int ParseInt(CsvRow row, string column) =>
        int.TryParse(row[column], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"CSV row {row.Row}: '{column}' is not an integer: '{row[column]}'.");

    private static double ParseDouble(CsvRow row, string column) => row[column] switch
    {
        // Python writes infinities this way; .NET's parser only knows "-Infinity".
        "-inf" => double.NegativeInfinity,
        "inf" => double.PositiveInfinity,
        var text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
        var text => throw new FormatException($"CSV row {row.Row}: '{column}' is not a number: '{text}'."),
    };
}

/// <summary>The prompt a cascade trace answered (shared/data/cascade-traces/prompts.csv).</summary>
public sealed record CascadePrompt(string Benchmark, string Split, int QueryIndex, string SystemPrompt, string UserPrompt)
{
    public static IEnumerable<CascadePrompt> ReadCsv(TextReader reader) =>
        CsvReader.ReadWithHeader(reader, "benchmark", "split", "query_idx", "system_prompt", "user_prompt").Select(row => new CascadePrompt(
            row["benchmark"],
            row["split"],
            int.Parse(row["query_idx"], CultureInfo.InvariantCulture),
            row["system_prompt"],
            row["user_prompt"]));
}
