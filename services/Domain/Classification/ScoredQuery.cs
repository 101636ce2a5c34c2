using System.Text.Json;
using Router.Domain.Traces;

namespace Router.Domain.Classification;

/// <summary>
/// A query with each model's quality score in [0, 1] (1 = answered right). A model with no score
/// for a query is absent from <see cref="Scores"/>, never counted as wrong.
/// </summary>
public sealed record ScoredQuery(string Question, IReadOnlyDictionary<string, double> Scores)
{
    /// <summary>A score of at least this counts as answered right when AUROC is measured.</summary>
    public const double RightFrom = 0.5;

    /// <summary>The layout of llmrouter/train.json: [{question, scores: {model: 0..1}}].</summary>
    public static IReadOnlyList<ScoredQuery> ReadJson(Stream json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("The queries file must be a JSON array of {question, scores} objects.");
        }

        return [.. document.RootElement.EnumerateArray().Select((e, i) => new ScoredQuery(
            e.TryGetProperty("question", out var question) ? question.GetString() ?? string.Empty : throw new FormatException($"Item {i} has no 'question'."),
            e.TryGetProperty("scores", out var scores) ? scores.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble()) : throw new FormatException($"Item {i} has no 'scores'.")))];
    }

    /// <summary>
    /// The cascade-traces layout: each prompt's user message (what the Gateway sends the classifier)
    /// with every model's recorded correctness, joined on (benchmark, split, query_idx). Prompts no
    /// model answered are left out; an answer without a prompt is an error.
    /// </summary>
    public static IReadOnlyList<ScoredQuery> FromCascadeTraces(IEnumerable<CascadePrompt> prompts, IEnumerable<CascadeTrace> traces)
    {
        var correctness = traces
            .GroupBy(t => (t.Benchmark, t.Split, t.QueryIndex))
            .ToDictionary(g => g.Key, g => g.GroupBy(t => t.Model, StringComparer.Ordinal).ToDictionary(m => m.Key, m => m.Average(t => t.Correct ? 1.0 : 0.0), StringComparer.Ordinal));
        var queries = new List<ScoredQuery>();
        foreach (var prompt in prompts)
        {
            if (correctness.Remove((prompt.Benchmark, prompt.Split, prompt.QueryIndex), out var scores))
            {
                queries.Add(new ScoredQuery(prompt.UserPrompt, scores));
            }
        }

        if (correctness.Count > 0)
        {
            var (benchmark, split, index) = correctness.Keys.First();
            throw new FormatException($"{correctness.Count} answered queries have no prompt, for example benchmark {benchmark}, split {split}, query_idx {index}.");
        }

        return queries;
    }

    /// <summary>Only <paramref name="models"/>' scores, and only queries that have at least one of them.</summary>
    public static IReadOnlyList<ScoredQuery> Restrict(IReadOnlyList<ScoredQuery> queries, IReadOnlyCollection<string> models)
    {
        var missing = models.Where(m => !queries.Any(q => q.Scores.ContainsKey(m))).ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException($"no scores for {string.Join(", ", missing)}; the file has {string.Join(", ", ModelsOf(queries))}.", nameof(models));
        }

        return [.. queries
            .Select(q => q with { Scores = q.Scores.Where(s => models.Contains(s.Key)).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal) })
            .Where(q => q.Scores.Count > 0)];
    }

    public static IReadOnlyList<string> ModelsOf(IEnumerable<ScoredQuery> queries) =>
        [.. queries.SelectMany(q => q.Scores.Keys).Distinct().Order(StringComparer.Ordinal)];
}
