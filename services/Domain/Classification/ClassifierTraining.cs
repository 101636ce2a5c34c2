using System.Text.Json;
using Router.Domain.Metrics;

namespace Router.Domain.Classification;

/// <summary>A query with each model's quality score in [0, 1] (the layout of llmrouter/train.json).</summary>
public sealed record ScoredQuery(string Question, IReadOnlyDictionary<string, double> Scores)
{
    public static IReadOnlyList<ScoredQuery> ReadJson(Stream json)
    {
        var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(e => new ScoredQuery(
            e.GetProperty("question").GetString() ?? string.Empty,
            e.GetProperty("scores").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble())))];
    }
}

/// <summary>A trained classifier with its held-out AUROC per model.</summary>
public sealed record ClassifierTrainingResult(PerModelLogistic Model, QueryFeaturizer Featurizer, IReadOnlyDictionary<string, double> HeldOutAuroc, int Trained, int HeldOut);

public static class ClassifierTraining
{
    /// <summary>
    /// Holds out a random share of the queries, trains one logistic regression per model (label:
    /// score >= 0.5) on the rest and measures AUROC on the held-out part.
    /// </summary>
    public static ClassifierTrainingResult TrainAndEvaluate(IReadOnlyList<ScoredQuery> queries, double holdout, int seed, int hashedDimensions = 4096, int epochs = 12)
    {
        var models = queries.SelectMany(q => q.Scores.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var featurizer = new QueryFeaturizer(hashedDimensions);
        var order = Enumerable.Range(0, queries.Count).ToArray();
        new Random(seed).Shuffle(order);
        var held = (int)Math.Round(queries.Count * holdout);
        var test = order[..held];
        var train = order[held..];
        bool[] Labels(ScoredQuery q) => [.. models.Select(m => q.Scores.GetValueOrDefault(m) >= 0.5)];

        var model = PerModelLogistic.Train(models, [.. train.Select(i => featurizer.Featurize(queries[i].Question))], [.. train.Select(i => Labels(queries[i]))], epochs, seed: seed);
        var auroc = new Dictionary<string, double>();
        if (test.Length > 0)
        {
            var predictions = test.Select(i => model.Predict(featurizer.Featurize(queries[i].Question))).ToList();
            for (var m = 0; m < models.Count; m++)
            {
                auroc[models[m]] = CalibrationMetrics.Auroc([.. predictions.Select(p => p[m])], [.. test.Select(i => Labels(queries[i])[m])]);
            }
        }

        return new ClassifierTrainingResult(model, featurizer, auroc, train.Length, test.Length);
    }
}
