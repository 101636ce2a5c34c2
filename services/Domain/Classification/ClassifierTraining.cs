using Router.Domain.Metrics;

namespace Router.Domain.Classification;

/// <summary>How the pre-call classifier is trained; <see cref="Fits"/> set skips the cross-validation.</summary>
public sealed record ClassifierTrainingOptions
{
    /// <summary>Share of the queries held out to measure AUROC; never seen by training or model selection.</summary>
    public double Holdout { get; init; } = 0.2;

    /// <summary>Seeds the held-out split, the folds and the training.</summary>
    public int Seed { get; init; } = 7;

    public int HashedDimensions { get; init; } = QueryFeaturizer.DefaultHashedDimensions;

    /// <summary>L2 penalties tried per model by cross-validation.</summary>
    public IReadOnlyList<double> L2Grid { get; init; } = [1e-6, 1e-5, 1e-4];

    /// <summary>Cross-validation also picks each model's epoch count, up to this many.</summary>
    public int MaxEpochs { get; init; } = 20;

    public int Folds { get; init; } = 4;

    /// <summary>Each model's L2 and epochs, already chosen (a committed model's recorded settings); null to cross-validate.</summary>
    public IReadOnlyDictionary<string, LogisticFit>? Fits { get; init; }
}

/// <summary>A model's AUROC on labelled queries (score >= 0.5 counts as right), with how many queries and how many were right.</summary>
public sealed record ModelAuroc(string Model, double Auroc, int Queries, double Accuracy);

/// <summary>A trained classifier, the settings that reproduce it and its held-out AUROC per model.</summary>
public sealed record ClassifierTrainingResult(
    PerModelLogistic Model,
    QueryFeaturizer Featurizer,
    IReadOnlyDictionary<string, LogisticFit> Fits,
    IReadOnlyDictionary<string, double> CrossValidatedAuroc,
    IReadOnlyList<ModelAuroc> HeldOut,
    int Trained,
    int HeldOutQueries)
{
    public IReadOnlyDictionary<string, double> HeldOutAuroc => HeldOut.ToDictionary(a => a.Model, a => a.Auroc);
}

public static class ClassifierTraining
{
    /// <summary>
    /// Holds out a random share of the queries (the same split for a seed and size as every earlier
    /// version of this trainer, so figures compare), picks each model's L2 and epoch count by k-fold
    /// cross-validated AUROC on the rest, trains on all of the rest and measures AUROC on the held-out part.
    /// </summary>
    public static ClassifierTrainingResult TrainAndEvaluate(IReadOnlyList<ScoredQuery> queries, ClassifierTrainingOptions options)
    {
        var models = ScoredQuery.ModelsOf(queries);
        var featurizer = new QueryFeaturizer(options.HashedDimensions);
        var (train, test) = Split(queries.Count, options.Holdout, options.Seed);
        var x = queries.Select(q => featurizer.FeaturizeSparse(q.Question)).ToArray();
        var targets = queries.Select(q => models.Select(m => q.Scores.TryGetValue(m, out var s) ? Math.Clamp(s, 0, 1) : double.NaN).ToArray()).ToArray();

        IReadOnlyDictionary<string, LogisticFit> fits;
        IReadOnlyDictionary<string, double> crossValidated;
        if (options.Fits is { } given)
        {
            fits = models.ToDictionary(m => m, m => given.TryGetValue(m, out var fit) ? fit : throw new ArgumentException($"the settings have no L2 and epochs for {m}.", nameof(options)));
            crossValidated = new Dictionary<string, double>();
        }
        else
        {
            (fits, crossValidated) = CrossValidate(models, featurizer.Dimensions, featurizer.HashedDimensions, train, x, targets, options);
        }

        var model = AdamLogistic.Train(models, featurizer.Dimensions, featurizer.HashedDimensions, [.. train.Select(i => x[i])], [.. train.Select(i => targets[i])], [.. models.Select(m => fits[m])], options.Seed);
        var heldOut = Evaluate([.. test.Select(i => queries[i])], [.. test.Select(i => model.Predict(x[i]))], models);
        return new ClassifierTrainingResult(model, featurizer, fits, crossValidated, heldOut, train.Length, test.Length);
    }

    /// <summary>The held-out split: a seeded shuffle, the first round(count * holdout) held out.</summary>
    public static (int[] Train, int[] Test) Split(int count, double holdout, int seed)
    {
        if (double.IsNaN(holdout) || holdout is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(holdout), holdout, "must be in [0, 1).");
        }

        var order = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(order);
        var held = (int)Math.Round(count * holdout);
        return (order[held..], order[..held]);
    }

    /// <summary>
    /// AUROC per predicted model over the queries that score it. <paramref name="labelsOf"/> maps a
    /// predicted model to the model whose scores judge it (default: the same name); a model no query
    /// scores is left out.
    /// </summary>
    public static IReadOnlyList<ModelAuroc> Evaluate(IReadOnlyList<ScoredQuery> queries, IReadOnlyList<double[]> predictions, IReadOnlyList<string> predictedModels, IReadOnlyDictionary<string, string>? labelsOf = null)
    {
        var result = new List<ModelAuroc>();
        for (var m = 0; m < predictedModels.Count; m++)
        {
            var labelled = labelsOf?.GetValueOrDefault(predictedModels[m]) ?? predictedModels[m];
            var pairs = queries.Select((q, i) => (Scored: q.Scores.TryGetValue(labelled, out var s), Score: s, P: predictions[i][m])).Where(p => p.Scored).ToList();
            if (pairs.Count > 0)
            {
                var right = pairs.Select(p => p.Score >= ScoredQuery.RightFrom).ToArray();
                result.Add(new ModelAuroc(predictedModels[m], CalibrationMetrics.Auroc([.. pairs.Select(p => p.P)], right), pairs.Count, right.Average(r => r ? 1.0 : 0.0)));
            }
        }

        return result;
    }

    /// <summary>
    /// Every (L2, epochs) of the grid on k folds of the training rows; each model keeps the pair
    /// with the best mean validation AUROC. Folds and L2 values train in parallel; each run is
    /// seeded, so the choice does not depend on the scheduling.
    /// </summary>
    private static (IReadOnlyDictionary<string, LogisticFit> Fits, IReadOnlyDictionary<string, double> Auroc) CrossValidate(
        IReadOnlyList<string> models, int features, int standardiseFrom, int[] train, SparseFeatures[] x, double[][] targets, ClassifierTrainingOptions options)
    {
        if (options.Folds < 2 || options.L2Grid.Count == 0 || options.MaxEpochs < 1)
        {
            throw new ArgumentException("cross-validation needs at least 2 folds, one L2 value and one epoch.", nameof(options));
        }

        var folds = options.Folds;
        var grid = options.L2Grid;
        var sums = new double[grid.Count, folds, options.MaxEpochs, models.Count];
        Parallel.For(0, grid.Count * folds, run =>
        {
            var (l, fold) = (run / folds, run % folds);
            var fitting = train.Where((_, k) => k % folds != fold).ToArray();
            var validation = train.Where((_, k) => k % folds == fold).ToArray();
            var queries = validation.Select(i => new ScoredQuery(string.Empty, models.Select((m, j) => (m, t: targets[i][j])).Where(p => !double.IsNaN(p.t)).ToDictionary(p => p.m, p => p.t))).ToArray();
            AdamLogistic.Train(
                models, features, standardiseFrom, [.. fitting.Select(i => x[i])], [.. fitting.Select(i => targets[i])],
                [.. models.Select(_ => new LogisticFit(grid[l], options.MaxEpochs))], options.Seed,
                (epoch, model) =>
                {
                    var auroc = Evaluate(queries, [.. validation.Select(i => model.Predict(x[i]))], models).ToDictionary(a => a.Model, a => a.Auroc);
                    for (var j = 0; j < models.Count; j++)
                    {
                        sums[l, fold, epoch - 1, j] = auroc.TryGetValue(models[j], out var a) && !double.IsNaN(a) ? a : 0.5;
                    }
                });
        });

        var fits = new Dictionary<string, LogisticFit>();
        var best = new Dictionary<string, double>();
        for (var j = 0; j < models.Count; j++)
        {
            best[models[j]] = double.NegativeInfinity;
            for (var l = 0; l < grid.Count; l++)
            {
                for (var e = 0; e < options.MaxEpochs; e++)
                {
                    var mean = Enumerable.Range(0, folds).Average(f => sums[l, f, e, j]);
                    if (mean > best[models[j]])
                    {
                        (best[models[j]], fits[models[j]]) = (mean, new LogisticFit(grid[l], e + 1));
                    }
                }
            }
        }

        return (fits, best);
    }
}

/// <summary>
/// What an exported classifier was trained on and with: enough to train it again and to check a
/// stored model against its data. <see cref="Fits"/> and <see cref="HeldOutAuroc"/> are keyed by
/// the model names of the training file.
/// </summary>
public sealed record ClassifierProvenance(
    string Featurizer,
    string Source,
    IReadOnlyList<string> Models,
    double Holdout,
    int Seed,
    int HashedDimensions,
    IReadOnlyDictionary<string, LogisticFit> Fits,
    IReadOnlyDictionary<string, double> HeldOutAuroc,
    int Trained,
    int HeldOut)
{
    public static ClassifierProvenance Of(ClassifierTrainingResult result, ClassifierTrainingOptions options, string source) => new(
        QueryFeaturizer.Version, source, result.Model.Models, options.Holdout, options.Seed, result.Featurizer.HashedDimensions, result.Fits, result.HeldOutAuroc, result.Trained, result.HeldOutQueries);

    /// <summary>The options that train this classifier again without repeating the cross-validation.</summary>
    public ClassifierTrainingOptions ToOptions() => new() { Holdout = Holdout, Seed = Seed, HashedDimensions = HashedDimensions, Fits = Fits };
}
