using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Ledger;
using Router.Ledger.Calibration;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Testing;
using Xunit;

namespace Router.Scoring.Tests;

/// <summary>
/// The drift monitor in the real Scoring host on real Kestrel, over a real ledger: feedback whose
/// accuracy falls below the calibrated confidence degrades /health and raises the gauges, and a
/// refit from the ledger (the code of `router calibrate --from-ledger`) clears both once loaded.
/// </summary>
public sealed class CalibrationDriftTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<PostgresFixture>, IClassFixture<RedisFixture>
{
    private const string Drifting = "llama3.1-8b";
    private const string Steady = "gpt-4o";

    [Fact]
    public async Task Feedback_that_departs_from_the_confidence_raises_the_warning_and_a_refit_from_the_ledger_clears_it()
    {
        CalibratorRegistry.RefreshInterval = TimeSpan.FromMilliseconds(200);
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider();
        await services.MigrateLedgerAsync();
        var store = services.GetRequiredService<ArtifactStore>();
        var identity = new CalibratorArtifact(SignalNames.GeometricMeanProbability, new IdentityCalibrator());
        await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, Drifting, identity.ToJson(), "{}");
        await store.SaveNewVersionAsync(ArtifactKinds.Calibrator, Steady, identity.ToJson(), "{}");

        // The calibrators were right once; now the small model is right 30 points less often than they say.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        await using var source = NpgsqlDataSource.Create(ledger);
        await LabelledAnswers.WriteAsync(source, Drifting, 400, accuracyShift: -0.3, time.GetUtcNow(), seed: 1);
        await LabelledAnswers.WriteAsync(source, Steady, 300, accuracyShift: 0, time.GetUtcNow(), seed: 2);

        await using var scoring = new ScoringWithClock(redis.Server.ConnectionString, ledger, time);
        var meters = scoring.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var ece = new MetricCollector<double>(meters, CalibrationDriftMonitor.MeterName, "router.calibration.drift_ece");
        using var gap = new MetricCollector<double>(meters, CalibrationDriftMonitor.MeterName, "router.calibration.drift_gap");
        using var drifted = new MetricCollector<int>(meters, CalibrationDriftMonitor.MeterName, "router.calibration.drifted");
        using var labels = new MetricCollector<int>(meters, CalibrationDriftMonitor.MeterName, "router.calibration.drift_labels");

        var warning = await WaitForHealthAsync(scoring, "Degraded");
        Assert.Contains($"{Drifting} (calibrator {Drifting} v1): 400 labels from ", warning, StringComparison.Ordinal);
        Assert.Matches(@"ECE 0\.\d{3} \(95% CI 0\.\d{3} to 0\.\d{3}\), gap -0\.\d{3} \(95% CI -0\.\d{3} to -0\.\d{3}\)", warning);
        Assert.Contains("overconfident", warning, StringComparison.Ordinal);
        Assert.Contains("router calibrate --from-ledger", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(Steady, warning, StringComparison.Ordinal);

        var stale = Window(scoring, Drifting);
        Assert.Equal(stale.Current.Ece, Gauge(ece, Drifting, "v1"), 12);
        Assert.Equal(stale.Current.Gap, Gauge(gap, Drifting, "v1"), 12);
        Assert.InRange(stale.Current.Gap, -0.4, -0.2);
        Assert.Equal(1, Gauge(drifted, Drifting, "v1"));
        Assert.Equal(400, Gauge(labels, Drifting, "v1"));
        Assert.Equal(0, Gauge(drifted, Steady, "v1"));

        var refitted = await CalibrationRefit.FromLedgerAsync(source, store, CancellationToken.None);
        Assert.Equal([(Steady, 2), (Drifting, 2)], refitted.Select(r => (r.Saved.Name, r.Saved.Version)).Order());
        await Eventually.UntilAsync(() => scoring.Services.GetRequiredService<CalibratorRegistry>().Versions()[Drifting].Version == 2, "the refitted calibrator was never loaded");

        // The next measurement is due a minute later on the service's clock.
        time.Advance(scoring.Services.GetRequiredService<IOptions<CalibrationDriftOptions>>().Value.Interval);

        var cleared = await WaitForHealthAsync(scoring, "Healthy");
        Assert.Contains("2 calibrator window(s) with at least 200 labels, none drifted", cleared, StringComparison.Ordinal);
        var refit = Window(scoring, Drifting);
        Assert.Equal(2, refit.Version);
        Assert.False(refit.Drifted);
        var before = Assert.Single(refit.Served);
        Assert.Equal((1, 400), (before.Version, before.Answers));
        Assert.Equal(stale.Current, before.Measurement);
        Assert.True(refit.Current.Ece < stale.Current.Ece / 3, $"ECE after the refit {refit.Current.Ece:F3}, before {stale.Current.Ece:F3}");
        Assert.Equal(0, Gauge(drifted, Drifting, "v2"));
        Assert.Equal(refit.Current.Ece, Gauge(ece, Drifting, "v2"), 12);
    }

    [Fact]
    public void A_bad_drift_setting_stops_the_service_naming_the_key()
    {
        using var scoring = new ScoringWithClock(redis.Server.ConnectionString, "Host=127.0.0.1;Port=9;Database=none", new FakeTimeProvider(), new Dictionary<string, string?> { ["CalibrationDrift:MaxEce"] = "1.5" });

        var error = Assert.Throws<OptionsValidationException>(() => scoring.Services);

        Assert.Contains("CalibrationDrift:MaxEce must be between 0 and 1", error.Message, StringComparison.Ordinal);
    }

    private static CalibratorDrift Window(ScoringWithClock scoring, string model) =>
        scoring.Services.GetRequiredService<CalibrationDriftMonitor>().Latest!.Windows.Single(w => w.Model == model);

    /// <summary>The gauge's latest value for the model's window measured against the named calibrator version.</summary>
    private static T Gauge<T>(MetricCollector<T> collector, string model, string version)
        where T : struct
    {
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot()
            .Last(m => Equals(m.Tags["model"], model) && Equals(m.Tags["calibrator"], model) && Equals(m.Tags["calibrator_version"], version))
            .Value;
    }

    /// <summary>Waits until /health is <paramref name="status"/>; returns the drift check's description.</summary>
    private static async Task<string> WaitForHealthAsync(ScoringWithClock scoring, string status)
    {
        using var http = new HttpClient { BaseAddress = scoring.Address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        string? last = null;
        await Eventually.UntilAsync(
            async () =>
            {
                using var health = JsonDocument.Parse(await http.GetStringAsync("/health"));
                var check = health.RootElement.GetProperty("checks").GetProperty(CalibrationDriftMonitor.HealthCheckName);
                last = check.GetProperty("description").GetString();
                return health.RootElement.GetProperty("status").GetString() == status && check.GetProperty("status").GetString() == status;
            },
            $"/health never became {status}");
        return last!;
    }

    /// <summary>The Scoring service with its clock replaced, so the test decides when the next measurement is due.</summary>
    private sealed class ScoringWithClock(string cache, string ledger, FakeTimeProvider time, IDictionary<string, string?>? settings = null)
        : GrpcServiceFactory<Program>(new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ConnectionStrings:cache"] = cache,
            ["ConnectionStrings:ledger"] = ledger,
        })
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(time));
        }
    }
}

/// <summary>Answers of one model written to the ledger as the Gateway writes them, each labelled through the feedback table.</summary>
internal static class LabelledAnswers
{
    /// <summary>
    /// <paramref name="count"/> answers, one labelled a minute up to <paramref name="now"/>, with a raw
    /// geometric-mean probability between 0.45 and 0.95 served through the identity calibrator v1,
    /// right with probability raw + <paramref name="accuracyShift"/>.
    /// </summary>
    public static async Task WriteAsync(NpgsqlDataSource ledger, string model, int count, double accuracyShift, DateTimeOffset now, int seed)
    {
        var random = new Random(seed);
        var answers = Enumerable.Range(0, count).Select(i =>
        {
            var raw = 0.45 + 0.5 * random.NextDouble();
            return (Id: $"chatcmpl-{model}-{i:D4}", Raw: raw, Correct: random.NextDouble() < raw + accuracyShift, LabelledAt: now.AddMinutes(i - count));
        }).ToList();
        var requests = answers.Select(a => new RoutedRequest
        {
            Id = a.Id,
            ReceivedAt = a.LabelledAt.AddSeconds(-5),
            Policy = "default",
            PolicyVersion = "1",
            Mode = "cascade",
            FinalModel = model,
            CalibratorVersion = $"{model}@1",
            Confidence = a.Raw,
            Stages = 1,
            Simulated = true,
            Attempts =
            [
                new RoutingAttempt
                {
                    RequestId = a.Id,
                    Model = model,
                    Signals = string.Create(CultureInfo.InvariantCulture, $$"""{"{{SignalNames.GeometricMeanProbability}}": {{a.Raw:R}}, "{{SignalNames.MeanLogprob}}": {{Math.Log(a.Raw):R}}}"""),
                    Confidence = a.Raw,
                    Calibrated = true,
                    CalibratorVersion = $"{model}@1",
                    Decision = "accept",
                },
            ],
        }).ToList();
        await new LedgerWriter(ledger).WriteAsync(requests, CancellationToken.None);

        await using var feedback = ledger.CreateCommand("INSERT INTO feedback (request_id, correct, created_at, updated_at) SELECT id, correct, at, at FROM unnest(@ids, @correct, @at) AS f(id, correct, at)");
        feedback.Parameters.AddWithValue("ids", answers.Select(a => a.Id).ToArray());
        feedback.Parameters.AddWithValue("correct", answers.Select(a => a.Correct).ToArray());
        feedback.Parameters.AddWithValue("at", answers.Select(a => a.LabelledAt.UtcDateTime).ToArray());
        await feedback.ExecuteNonQueryAsync();
    }
}
