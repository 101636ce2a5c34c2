extern alias classifier;

using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Classification;
using Router.Domain.Traces;
using Router.OnnxModels;
using Router.OnnxModels.Onnx;
using Router.Testing;
using Xunit;
using classifier::Router.ClassifierService;

namespace Router.ClassifierService.Tests;

/// <summary>
/// The committed classifier of the default fleet (services/Classifier/Models/default-portfolio.onnx):
/// trained again here from the recorded cascade traces with the settings recorded in it, so a change
/// to the features, the trainer or the data that the committed file does not reflect fails here.
/// </summary>
public sealed class DefaultPortfolioModelTests
{
    public const string RelativePath = "Models/default-portfolio.onnx";
    private static readonly string[] DefaultFleet = ["llama3.1-8b", "llama3.1-70b", "gpt-4o"];

    private static readonly Lazy<Committed> Model = new(() =>
    {
        var classifier = new OnnxClassifier(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, RelativePath)));
        var provenance = classifier.Provenance ?? throw new InvalidOperationException("the committed model records no training settings");
        using var prompts = SharedData.Open("cascade-traces/prompts.csv");
        using var traces = SharedData.Open("cascade-traces/traces.csv");
        var queries = ScoredQuery.Restrict(ScoredQuery.FromCascadeTraces(CascadePrompt.ReadCsv(prompts), CascadeTrace.ReadCsv(traces)), provenance.Models.ToList());
        var (_, test) = ClassifierTraining.Split(queries.Count, provenance.Holdout, provenance.Seed);
        return new Committed(classifier, provenance, queries, [.. test.Select(i => queries[i])]);
    });

    [Fact]
    public void It_predicts_the_default_fleet_from_the_cascade_traces_with_the_recorded_settings()
    {
        var (classifier, provenance, queries, heldOut) = Model.Value;

        Assert.Equal(DefaultFleet.Order(StringComparer.Ordinal), classifier.Models);
        Assert.Equal(QueryFeaturizer.Version, provenance.Featurizer);
        Assert.StartsWith("cascade-traces:", provenance.Source, StringComparison.Ordinal);
        Assert.Equal((queries.Count - heldOut.Count, heldOut.Count), (provenance.Trained, provenance.HeldOut));
    }

    [Fact]
    public void Retraining_with_the_recorded_settings_gives_the_committed_model_and_its_held_out_auroc()
    {
        var (classifier, provenance, queries, heldOut) = Model.Value;

        var retrained = ClassifierTraining.TrainAndEvaluate(queries, provenance.ToOptions());
        var committed = classifier.Evaluate(heldOut);

        foreach (var auroc in committed)
        {
            Assert.Equal(retrained.HeldOutAuroc[auroc.Model], auroc.Auroc, 3);
            Assert.Equal(provenance.HeldOutAuroc[auroc.Model], auroc.Auroc, 3);
            Assert.True(auroc.Auroc >= 0.7, $"{auroc.Model}: held-out AUROC {auroc.Auroc:F3}");
        }

        Assert.Equal(DefaultFleet.Length, committed.Count);
        foreach (var query in heldOut.Take(100))
        {
            var expected = retrained.Model.Predict(retrained.Featurizer.FeaturizeSparse(query.Question));
            var served = classifier.Predict(query.Question);
            Assert.All(Enumerable.Range(0, expected.Length), m => Assert.Equal(expected[m], served[m], 1e-4));
        }
    }

    [Fact]
    public async Task The_service_loads_it_by_a_path_relative_to_its_content_root_and_starts_some_queries_above_the_cheapest()
    {
        var heldOut = Model.Value.HeldOut;
        await using var service = new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?> { ["Classifier:ModelPath"] = RelativePath });
        var client = new Router.Contracts.Classifier.ClassifierClient(service.Channel);

        var starts = new List<int>();
        foreach (var query in heldOut.Take(200))
        {
            var response = await client.PredictAsync(new PredictRequest { Query = query.Question, Models = { DefaultFleet } });
            Assert.False(response.Fallback, response.Reason);
            Assert.Equal("default-portfolio.onnx", response.Classifier);
            Assert.Equal(DefaultFleet, response.Predictions.Select(p => p.Model));
            starts.Add(response.StartStage);
        }

        // Hybrid and pre-call routing need both: most queries start at the cheapest model, some above it.
        Assert.Contains(0, starts);
        Assert.Contains(starts, s => s > 0);
        var contentRoot = service.Services.GetRequiredService<IHostEnvironment>().ContentRootPath;
        Assert.Equal(Path.Combine(contentRoot, RelativePath), service.Services.GetRequiredService<IOptions<ClassifierOptions>>().Value.ModelPath);
        Assert.NotEqual(Path.GetFullPath(Environment.CurrentDirectory), Path.GetFullPath(contentRoot));
    }

    [Fact]
    public void A_model_trained_on_other_features_is_refused_with_what_to_do()
    {
        var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, RelativePath)));
        var featurizer = onnx.MetadataProps.Single(p => p.Key == LogisticOnnx.FeaturizerKey);
        onnx.MetadataProps.Remove(featurizer);

        var refused = Assert.Throws<InvalidDataException>(() => new OnnxClassifier(onnx.ToByteArray()));

        Assert.Contains("hashed-v1", refused.Message, StringComparison.Ordinal);
        Assert.Contains("router classifier train", refused.Message, StringComparison.Ordinal);
    }

    private sealed record Committed(OnnxClassifier Classifier, ClassifierProvenance Provenance, IReadOnlyList<ScoredQuery> Queries, IReadOnlyList<ScoredQuery> HeldOut);
}
