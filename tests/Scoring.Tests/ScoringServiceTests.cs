using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Router.Contracts;
using Router.Domain.Calibration;
using Router.Domain.Evaluation;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Router.Ledger;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Scoring.Tests;

/// <summary>The Scoring service on real Kestrel over real gRPC, with its own Redis (stopped mid-run) and PostgreSQL.</summary>
public sealed class ScoringServiceTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private LocalRedisServer _redis = null!;
    private string _ledger = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        CalibratorRegistry.RefreshInterval = TimeSpan.FromMilliseconds(200);
        _redis = await LocalRedisServer.StartAsync(_ => { });
        _ledger = await postgres.CreateDatabaseAsync("ledger");
        _services = new ServiceCollection().AddLedger(_ledger).BuildServiceProvider();
        await _services.MigrateLedgerAsync();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task A_second_identical_attempt_is_a_cache_hit_with_the_same_score()
    {
        await SaveCalibratorAsync("llama3.1-8b", new PlattCalibrator(1, 0.5));
        await using var scoring = Scoring();
        var client = new Router.Contracts.Scoring.ScoringClient(scoring.Channel);

        var first = await WaitForCalibratedAsync(client, Attempt("llama3.1-8b"));
        var second = await client.ScoreAttemptAsync(Attempt("llama3.1-8b"));

        Assert.False(first.CacheHit);
        Assert.True(second.CacheHit);
        Assert.Equal(first.PCorrect, second.PCorrect);
        Assert.Equal(("llama3.1-8b", 1, SignalNames.GeometricMeanProbability), (first.Calibrator, first.CalibratorVersion, first.CalibratedSignal));
        var raw = first.Signals[SignalNames.GeometricMeanProbability];
        Assert.Equal(Calibrator.Sigmoid(Calibrator.Logit(raw) + 0.5), first.PCorrect, 1e-12);
    }

    [Fact]
    public async Task A_new_calibrator_version_invalidates_cached_scores()
    {
        await SaveCalibratorAsync("llama3.1-70b", new PlattCalibrator(1, 0));
        await using var scoring = Scoring();
        var client = new Router.Contracts.Scoring.ScoringClient(scoring.Channel);
        var before = await WaitForCalibratedAsync(client, Attempt("llama3.1-70b"));
        Assert.True((await client.ScoreAttemptAsync(Attempt("llama3.1-70b"))).CacheHit);

        await SaveCalibratorAsync("llama3.1-70b", new PlattCalibrator(1, -1));
        var clock = Stopwatch.StartNew();
        ScoreAttemptResponse after;
        do
        {
            after = await client.ScoreAttemptAsync(Attempt("llama3.1-70b"));
        }
        while (after.CalibratorVersion == 1 && clock.Elapsed < TimeSpan.FromSeconds(20));

        Assert.Equal(2, after.CalibratorVersion);
        Assert.False(after.CacheHit);
        Assert.True(after.PCorrect < before.PCorrect);
    }

    [Fact]
    public async Task With_redis_stopped_it_keeps_answering_uncached_and_reports_degraded()
    {
        await using var scoring = Scoring();
        var client = new Router.Contracts.Scoring.ScoringClient(scoring.Channel);
        await client.ScoreAttemptAsync(Attempt("gpt-4o"));
        Assert.True((await client.ScoreAttemptAsync(Attempt("gpt-4o"))).CacheHit);

        await _redis.StopAsync();

        var during = await client.ScoreAttemptAsync(Attempt("gpt-4o"));
        Assert.False(during.CacheHit);
        Assert.Equal("Degraded", await HealthAsync(scoring));

        await _redis.StartAsync();
    }

    [Fact]
    public async Task Without_a_calibrator_the_score_is_the_raw_geometric_mean_probability_and_says_so()
    {
        await using var scoring = Scoring();

        var response = await new Router.Contracts.Scoring.ScoringClient(scoring.Channel).ScoreAttemptAsync(Attempt("unknown-model"));

        Assert.False(response.Calibrated);
        Assert.Equal("none", response.Calibrator);
        Assert.Equal(Math.Exp((0 - 0.1 - 0.5) / 3), response.PCorrect, 1e-12);
    }

    [Fact]
    public async Task Calibrators_fitted_from_the_recorded_traces_are_used_per_task_family()
    {
        using var reader = SharedData.Open("cascade-traces/traces.csv");
        var store = _services.GetRequiredService<ArtifactStore>();
        foreach (var fitted in CalibrationFitting.FromTraces(CascadeTrace.ReadCsv(reader).Where(t => t.Model == "llama3.1-8b")))
        {
            await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, fitted.Name, fitted.Artifact.ToJson(), "{}");
        }

        await using var scoring = Scoring();
        var client = new Router.Contracts.Scoring.ScoringClient(scoring.Channel);
        var attempt = Attempt("llama3.1-8b");
        attempt.TaskFamily = "mmlu";

        var mmlu = await WaitForCalibratedAsync(client, attempt);
        attempt.TaskFamily = "unknown-family";
        var general = await client.ScoreAttemptAsync(attempt);

        Assert.Equal("llama3.1-8b/mmlu", mmlu.Calibrator);
        Assert.Equal("llama3.1-8b", general.Calibrator);
    }

    [Fact]
    public async Task Bad_attempts_are_rejected_naming_the_field()
    {
        await using var scoring = Scoring();
        var client = new Router.Contracts.Scoring.ScoringClient(scoring.Channel);
        var positive = Attempt("gpt-4o");
        positive.Tokens[1].Logprob = 0.3;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ScoreAttemptAsync(positive).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() => client.ScoreAttemptAsync(new ScoreAttemptRequest()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("tokens[1].logprob", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("model", missing.Status.Detail, StringComparison.Ordinal);
    }

    private GrpcServiceFactory<Program> Scoring() => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:cache"] = _redis.ConnectionString,
        ["ConnectionStrings:ledger"] = _ledger,
    });

    private async Task SaveCalibratorAsync(string name, Calibrator calibrator) =>
        await _services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Calibrator, name, new CalibratorArtifact(SignalNames.GeometricMeanProbability, calibrator).ToJson(), "{}");

    private static async Task<ScoreAttemptResponse> WaitForCalibratedAsync(Router.Contracts.Scoring.ScoringClient client, ScoreAttemptRequest request)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await client.ScoreAttemptAsync(request);
            if (response.Calibrated)
            {
                return response;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the calibrator was never loaded");
            await Task.Delay(100);
        }
    }

    private static async Task<string> HealthAsync(GrpcServiceFactory<Program> service)
    {
        using var http = new HttpClient { BaseAddress = service.Address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync("/health"));
            var status = document.RootElement.GetProperty("status").GetString()!;
            if (status != "Healthy" || clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                return status;
            }

            await Task.Delay(200);
        }
    }

    private static ScoreAttemptRequest Attempt(string model) => new()
    {
        Model = model,
        Messages = { new ChatMessage { Role = "user", Content = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn" } },
        Answer = "Answer: B",
        Tokens =
        {
            Token("Answer", 0, ("Answer", 0), ("The", -4)),
            Token(":", -0.1, (":", -0.1), (" is", -2)),
            Token(" B", -0.5, (" B", -0.5), (" C", -1)),
        },
        Options = new Router.Contracts.SignalOptions { AnswerOptions = { "A", "B", "C", "D" } },
    };

    private static TokenLogprob Token(string text, double logprob, params (string Token, double Logprob)[] top)
    {
        var token = new TokenLogprob { Token = text, Logprob = logprob };
        token.TopLogprobs.AddRange(top.Select(t => new TokenAlternative { Token = t.Token, Logprob = t.Logprob }));
        return token;
    }
}
