using Router.Domain.Classification;
using Router.Domain.Traces;
using Xunit;

namespace Router.Domain.Tests.Classification;

public sealed class ClassificationTests
{
    private static readonly string[] Maths = ["Compute 12 * 7", "What is 3 + 4 * 2", "Solve x^2 = 9", "Integrate x^3 dx", "What is 81 / 9", "Compute 15 * 3 + 2", "What is 7 - 2 * 3", "Solve 2x + 3 = 7"];
    private static readonly string[] Trivia = ["Who painted the Mona Lisa", "Capital of Peru", "Who wrote Hamlet", "Largest ocean on Earth", "Author of Dune", "Who painted the Sistine Chapel", "Tallest mountain in Africa", "Who discovered penicillin"];

    [Fact]
    public void Features_are_deterministic_unit_length_and_see_structure()
    {
        var featurizer = new QueryFeaturizer(256);

        var a = featurizer.Featurize("Solve 2x + 3 = 7 for x.");
        var b = new QueryFeaturizer(256).Featurize("Solve 2x + 3 = 7 for x.");
        var operatorColumn = 256 + IndexOf("arithmetic operator");

        Assert.Equal(a, b);
        Assert.Equal(256 + QueryFeaturizer.StructureFeatureNames.Count, a.Length);
        Assert.Equal(1.0, Math.Sqrt(a.Take(256).Sum(f => (double)f * f)), 5);
        Assert.Equal(1, a[operatorColumn]);
        Assert.Equal(0, featurizer.Featurize("What is the capital of France?")[operatorColumn]);
        Assert.Equal(1, featurizer.Featurize("What is the capital of France?")[256 + IndexOf("ends with a question mark")]);
    }

    [Fact]
    public void Sparse_and_dense_features_are_the_same_vector_and_repeats_count_sublinearly()
    {
        var featurizer = new QueryFeaturizer(512);
        var sparse = featurizer.FeaturizeSparse("the cat the cat the cat sat");

        Assert.Equal(featurizer.Featurize("the cat the cat the cat sat"), sparse.ToDense(featurizer.Dimensions));
        Assert.True(sparse.Indices.SequenceEqual(sparse.Indices.Order()), "indices ascend");
        var once = featurizer.FeaturizeSparse("the sat");
        var thrice = featurizer.FeaturizeSparse("the the the sat");

        // Sublinear term frequency: three occurrences weigh 1 + ln 3 ~ 2.1 times one, not 3 times.
        var ratio = Math.Abs(Weight(thrice, featurizer, "w:the") / Weight(thrice, featurizer, "w:sat"));
        Assert.True(ratio is > 1.5f and < 2.5f, $"ratio {ratio}");
        Assert.Equal(1.0, Math.Abs(Weight(once, featurizer, "w:the") / Weight(once, featurizer, "w:sat")), 5);
    }

    [Fact]
    public void Adam_learns_a_separable_rule_per_model_from_soft_targets()
    {
        var featurizer = new QueryFeaturizer(512);
        var (x, targets) = MathsAndTrivia(featurizer, soft: true);

        var model = AdamLogistic.Train(["calculator", "librarian"], featurizer.Dimensions, featurizer.HashedDimensions, x, targets, [new LogisticFit(1e-5, 200), new LogisticFit(1e-5, 200)], seed: 1);

        var mathsQuery = model.Predict(featurizer.FeaturizeSparse("Compute 19 * 4 + 1"));
        var triviaQuery = model.Predict(featurizer.FeaturizeSparse("Who painted The Night Watch"));
        Assert.True(mathsQuery[0] > mathsQuery[1], string.Join(", ", mathsQuery));
        Assert.True(triviaQuery[1] > triviaQuery[0], string.Join(", ", triviaQuery));
    }

    [Fact]
    public void Standardisation_is_folded_into_the_weights_so_the_model_takes_raw_features()
    {
        // Training standardises the structure columns; the exported weights must give the same
        // logits on raw features, so scaling a raw column by 1000 must leave predictions unchanged.
        var featurizer = new QueryFeaturizer(64);
        var (x, targets) = MathsAndTrivia(featurizer, soft: false);
        var structure = featurizer.HashedDimensions;
        var scaled = x.Select(row => new SparseFeatures(row.Indices, [.. row.Values.Select((v, k) => row.Indices[k] == structure ? v * 1000 : v)])).ToArray();
        LogisticFit[] fits = [new(1e-4, 30), new(1e-4, 30)];

        var raw = AdamLogistic.Train(["a", "b"], featurizer.Dimensions, structure, x, targets, fits, seed: 2);
        var rescaled = AdamLogistic.Train(["a", "b"], featurizer.Dimensions, structure, scaled, targets, fits, seed: 2);

        for (var i = 0; i < x.Length; i++)
        {
            var expected = raw.Predict(x[i]);
            var actual = rescaled.Predict(scaled[i]);
            Assert.Equal(expected[0], actual[0], 4);
            Assert.Equal(expected[1], actual[1], 4);
        }
    }

    [Fact]
    public void A_missing_label_adds_no_loss_and_each_model_keeps_its_own_epoch()
    {
        var featurizer = new QueryFeaturizer(256);
        var (x, targets) = MathsAndTrivia(featurizer, soft: false);
        var unlabelled = targets.Select(t => new[] { t[0], double.NaN }).ToArray();
        var seen = new List<int>();

        var model = AdamLogistic.Train(["a", "b"], featurizer.Dimensions, featurizer.HashedDimensions, x, unlabelled, [new LogisticFit(1e-4, 5), new LogisticFit(1e-4, 2)], seed: 3, (epoch, _) => seen.Add(epoch));
        var shorter = AdamLogistic.Train(["a", "b"], featurizer.Dimensions, featurizer.HashedDimensions, x, unlabelled, [new LogisticFit(1e-4, 2), new LogisticFit(1e-4, 2)], seed: 3);

        Assert.Equal([1, 2, 3, 4, 5], seen);
        Assert.All(Enumerable.Range(0, featurizer.Dimensions), f => Assert.Equal(0, model.Weights[f * 2 + 1]));
        Assert.Equal(model.Bias[1], shorter.Bias[1]);
        Assert.NotEqual(model.Bias[0], shorter.Bias[0]);
    }

    [Fact]
    public void Cross_validation_picks_from_the_grid_and_the_recorded_fits_train_the_same_model()
    {
        var queries = Maths.Select((q, i) => new ScoredQuery(q + " " + i, new Dictionary<string, double> { ["calculator"] = 1, ["librarian"] = i % 3 == 0 ? 1 : 0 }))
            .Concat(Trivia.Select((q, i) => new ScoredQuery(q + " " + i, new Dictionary<string, double> { ["calculator"] = 0, ["librarian"] = i % 3 == 0 ? 0 : 1 })))
            .ToList();
        var options = new ClassifierTrainingOptions { Holdout = 0.25, Seed = 5, HashedDimensions = 256, L2Grid = [1e-5, 1e-3], MaxEpochs = 6, Folds = 3 };

        var crossValidated = ClassifierTraining.TrainAndEvaluate(queries, options);
        var retrained = ClassifierTraining.TrainAndEvaluate(queries, options with { Fits = crossValidated.Fits });

        Assert.Equal(["calculator", "librarian"], crossValidated.Model.Models);
        Assert.All(crossValidated.Fits.Values, fit => Assert.Contains(fit.L2, options.L2Grid));
        Assert.All(crossValidated.Fits.Values, fit => Assert.InRange(fit.Epochs, 1, options.MaxEpochs));
        Assert.Equal((12, 4), (crossValidated.Trained, crossValidated.HeldOutQueries));
        Assert.Equal(crossValidated.Model.Weights, retrained.Model.Weights);
        Assert.Equal(crossValidated.Model.Bias, retrained.Model.Bias);
        Assert.Equal(crossValidated.HeldOutAuroc, retrained.HeldOutAuroc);
        Assert.Empty(retrained.CrossValidatedAuroc);
    }

    [Fact]
    public void The_held_out_split_is_the_seeded_shuffle_every_version_used()
    {
        var order = Enumerable.Range(0, 50).ToArray();
        new Random(7).Shuffle(order);

        var (train, test) = ClassifierTraining.Split(50, 0.2, 7);

        Assert.Equal(order[..10], test);
        Assert.Equal(order[10..], train);
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassifierTraining.Split(50, 1, 7));
    }

    [Fact]
    public void Evaluation_judges_each_model_by_its_own_or_a_mapped_name_and_skips_the_unscored()
    {
        var queries = new[]
        {
            new ScoredQuery("q1", new Dictionary<string, double> { ["x"] = 1, ["file-y"] = 0 }),
            new ScoredQuery("q2", new Dictionary<string, double> { ["x"] = 0, ["file-y"] = 1 }),
            new ScoredQuery("q3", new Dictionary<string, double> { ["x"] = 0.7 }),
        };
        double[][] predictions = [[0.9, 0.2, 0.5], [0.1, 0.8, 0.5], [0.6, 0.5, 0.5]];

        var results = ClassifierTraining.Evaluate(queries, predictions, ["x", "y", "z"], new Dictionary<string, string> { ["y"] = "file-y" });

        Assert.Equal(["x", "y"], results.Select(r => r.Model));
        Assert.Equal(new ModelAuroc("x", 1, 3, 2 / 3.0), results[0]);
        Assert.Equal(new ModelAuroc("y", 1, 2, 0.5), results[1]);
    }

    [Fact]
    public void Cascade_traces_join_each_user_prompt_with_every_models_correctness()
    {
        const string Prompts = "benchmark,split,query_idx,system_prompt,user_prompt\nmmlu,test,0,sys,\"Question: 2+2?\nA: 4\"\nmmlu,test,1,sys,never answered\ntriviaqa,train,0,sys,Who wrote Hamlet?\n";
        const string Traces = "benchmark,split,query_idx,chain,model,answer,correct,raw_confidence,conf_signal,tokens_in,tokens_out,cost_usd,latency_ms\n"
            + "mmlu,test,0,llama,small,A,1,-0.1,s,10,1,0.1,5\nmmlu,test,0,llama,big,A,0,-0.2,s,10,1,0.2,5\ntriviaqa,train,0,llama,small,Bacon,0,-1,s,10,1,0.1,5\n";

        var queries = ScoredQuery.FromCascadeTraces(CascadePrompt.ReadCsv(new StringReader(Prompts)), CascadeTrace.ReadCsv(new StringReader(Traces)));

        Assert.Equal(["Question: 2+2?\nA: 4", "Who wrote Hamlet?"], queries.Select(q => q.Question));
        Assert.Equal(new Dictionary<string, double> { ["small"] = 1, ["big"] = 0 }, queries[0].Scores);
        Assert.Equal(new Dictionary<string, double> { ["small"] = 0 }, queries[1].Scores);
        Assert.Equal(["small"], ScoredQuery.Restrict(queries, ["small"]).SelectMany(q => q.Scores.Keys).Distinct());
        var unknown = Assert.Throws<ArgumentException>(() => ScoredQuery.Restrict(queries, ["huge"]));
        Assert.Contains("huge", unknown.Message, StringComparison.Ordinal);
        var orphan = Assert.Throws<FormatException>(() => ScoredQuery.FromCascadeTraces([], CascadeTrace.ReadCsv(new StringReader(Traces))));
        Assert.Contains("no prompt", orphan.Message, StringComparison.Ordinal);
    }

    private static int IndexOf(string structureFeature) => QueryFeaturizer.StructureFeatureNames.ToList().IndexOf(structureFeature);

    private static float Weight(SparseFeatures features, QueryFeaturizer featurizer, string gram) =>
        features.Values[Array.IndexOf(features.Indices, featurizer.BucketOf(gram).Index)];

    private static (SparseFeatures[] X, double[][] Targets) MathsAndTrivia(QueryFeaturizer featurizer, bool soft)
    {
        var queries = Maths.Select(q => (q, Maths: true)).Concat(Trivia.Select(q => (q, Maths: false))).ToList();
        return (
            [.. queries.Select(q => featurizer.FeaturizeSparse(q.q))],
            [.. queries.Select(q => q.Maths ? new[] { soft ? 0.9 : 1, soft ? 0.2 : 0 } : [soft ? 0.1 : 0, soft ? 0.8 : 1])]);
    }
}
