extern alias classifier;

using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Router.Contracts;
using Router.Domain.Classification;
using Router.Ledger;
using Router.OnnxModels;
using Router.Testing;
using Xunit;
using classifier::Router.ClassifierService;

namespace Router.ClassifierService.Tests;

/// <summary>A classifier trained here on the recorded llmrouter data, exported to ONNX and served by the real service over gRPC.</summary>
public sealed class ClassifierServiceTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    internal static readonly Lazy<(ClassifierTrainingResult Result, byte[] Onnx, IReadOnlyList<ScoredQuery> Queries)> Trained = new(() =>
    {
        using var stream = File.OpenRead(SharedData.PathOf("llmrouter/train.json"));
        var queries = ScoredQuery.ReadJson(stream).Take(1200).ToList();
        var options = new ClassifierTrainingOptions { Holdout = 0.25, Seed = 3, HashedDimensions = 1024, L2Grid = [1e-5], MaxEpochs = 6, Folds = 2 };
        var result = ClassifierTraining.TrainAndEvaluate(queries, options);
        return (result, LogisticOnnx.Export(result.Model, result.Featurizer, ClassifierProvenance.Of(result, options, "llmrouter:train.json (first 1200)")), queries);
    });

    [Fact]
    public void Held_out_auroc_shows_the_query_text_predicts_who_answers_right()
    {
        var auroc = Trained.Value.Result.HeldOutAuroc;

        Assert.Equal(9, auroc.Count);
        Assert.True(auroc.Values.Average() > 0.6, string.Join(", ", auroc.Select(a => $"{a.Key} {a.Value:F3}")));
    }

    [Fact]
    public async Task The_service_runs_the_onnx_model_and_matches_the_trainer_to_1e_5()
    {
        var path = Path.Combine(TestState.Directory, $"pre-call-{Guid.NewGuid():N}.onnx");
        Directory.CreateDirectory(TestState.Directory);
        await File.WriteAllBytesAsync(path, Trained.Value.Onnx);
        await using var service = new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?> { ["Classifier:ModelPath"] = path });
        var client = new Router.Contracts.Classifier.ClassifierClient(service.Channel);
        var (result, _, queries) = Trained.Value;
        var models = result.Model.Models.Take(3).ToList();

        var response = await WaitForModelAsync(client, new PredictRequest { Query = queries[0].Question, Models = { models } });

        foreach (var query in queries.Take(20))
        {
            var expected = result.Model.Predict(result.Featurizer.FeaturizeSparse(query.Question));
            var served = await client.PredictAsync(new PredictRequest { Query = query.Question, Models = { result.Model.Models } });
            Assert.Equal(result.Model.Models, served.Predictions.Select(p => p.Model));
            for (var m = 0; m < expected.Length; m++)
            {
                Assert.Equal(expected[m], served.Predictions[m].PIk, 1e-5);
            }

            var firstConfident = Array.FindIndex(expected[..^1], p => p >= 0.5);
            Assert.Equal(firstConfident >= 0 ? firstConfident : expected.Length - 1, served.StartStage);
        }

        Assert.False(response.Fallback);
    }

    [Fact]
    public async Task Without_a_model_it_starts_at_the_cheapest_and_says_so()
    {
        await using var service = new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?>());

        var response = await new Router.Contracts.Classifier.ClassifierClient(service.Channel).PredictAsync(new PredictRequest { Query = "What is 2+2?", Models = { "a", "b" } });

        Assert.True(response.Fallback);
        Assert.Equal(0, response.StartStage);
        Assert.Contains("no trained classifier", response.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_classifier_is_loaded_from_the_ledger_and_unknown_models_are_tried()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
            var artifact = new ClassifierArtifact(Convert.ToBase64String(Trained.Value.Onnx), Trained.Value.Result.Model.Models, Trained.Value.Result.HeldOutAuroc);
            await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Classifier, ClassifierModel.ArtifactName, artifact.ToJson(), "{}");
        }

        await using var service = new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?> { ["ConnectionStrings:ledger"] = ledger });
        var client = new Router.Contracts.Classifier.ClassifierClient(service.Channel);

        var response = await WaitForModelAsync(client, new PredictRequest { Query = "What is the capital of France?", Models = { "not-trained", Trained.Value.Result.Model.Models[0] } });

        Assert.Equal((ClassifierModel.ArtifactName, 1), (response.Classifier, response.ClassifierVersion));
        Assert.Equal(0, response.StartStage);
        Assert.Contains("not-trained", response.Reason, StringComparison.Ordinal);
        Assert.Single(response.Predictions);
    }

    [Fact]
    public async Task Bad_requests_name_the_field()
    {
        await using var service = new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?>());
        var client = new Router.Contracts.Classifier.ClassifierClient(service.Channel);

        var empty = await Assert.ThrowsAsync<RpcException>(() => client.PredictAsync(new PredictRequest { Query = " ", Models = { "a" } }).ResponseAsync);
        var noModels = await Assert.ThrowsAsync<RpcException>(() => client.PredictAsync(new PredictRequest { Query = "q" }).ResponseAsync);

        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument), (empty.StatusCode, noModels.StatusCode));
        Assert.StartsWith("query", empty.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("models", noModels.Status.Detail, StringComparison.Ordinal);
    }

    private static async Task<PredictResponse> WaitForModelAsync(Router.Contracts.Classifier.ClassifierClient client, PredictRequest request)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await client.PredictAsync(request);
            if (!response.Fallback)
            {
                return response;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the classifier was never loaded");
            await Task.Delay(100);
        }
    }
}
