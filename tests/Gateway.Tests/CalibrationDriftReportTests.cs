using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Domain.Calibration;
using Router.Domain.Metrics;
using Router.Domain.Signals;
using Router.Ledger;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// GET /v1/reports/calibration-drift on the real Gateway over a real ledger: labels given through
/// POST /v1/feedback with each team's key, drift measured on the caller's team's labels (every
/// team's for the admin key), and the before/after of a new calibrator version on the same window.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class CalibrationDriftReportTests(PostgresFixture postgres, RedisFixture redis) : IAsyncLifetime
{
    private const string AdminKey = "admin-key-for-the-drift-tests-0123";
    private const string Model = "llama3.1-8b";
    private const int LabelsPerTeam = 150;
    private GatewayFactory _gateway = null!;
    private HttpClient _client = null!;
    private string _ledger = null!;

    public async Task InitializeAsync()
    {
        _ledger = await postgres.CreateDatabaseAsync("ledger");
        await using (var services = new ServiceCollection().AddLedger(_ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        _gateway = new GatewayFactory(redis.Server.ConnectionString, _ledger, new Dictionary<string, string?>
        {
            ["Access:Mode"] = "Keys",
            ["Access:AdminKey"] = AdminKey,
            ["CalibrationDrift:MinimumLabels"] = "100",
        });
        _gateway.StartServer();
        _client = _gateway.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task A_team_sees_drift_on_its_own_labels_the_admin_on_every_teams_and_a_new_version_shows_before_and_after()
    {
        var search = await TeamKeys.CreateAsync(_client, AdminKey, "search");
        var support = await TeamKeys.CreateAsync(_client, AdminKey, "support");
        var identity = new CalibratorArtifact(SignalNames.GeometricMeanProbability, new IdentityCalibrator());
        await SaveCalibratorAsync(identity);

        // Both teams' answers were served by v1 at face value; search's are right 30 points less often.
        var searchAnswers = await LabelledAnswers.WriteAsync(_client, _ledger, search, "search", Model, LabelsPerTeam, accuracyShift: -0.3, seed: 1);
        var supportAnswers = await LabelledAnswers.WriteAsync(_client, _ledger, support, "support", Model, LabelsPerTeam, accuracyShift: 0, seed: 2);

        var searchView = Single(await ReportAsync(search));
        var supportView = Single(await ReportAsync(support));
        var admin = await ReportAsync(AdminKey);

        Assert.Equal("search", (await ReportAsync(search)).GetProperty("team").GetString());
        Assert.Equal(JsonValueKind.Null, admin.GetProperty("team").ValueKind);
        Assert.Equal(2 * LabelsPerTeam, Single(admin).GetProperty("labels").GetInt32());
        Assert.Equal(100, admin.GetProperty("settings").GetProperty("minimum_labels").GetInt32());
        AssertMeasured(searchView, searchAnswers, identity.Calibrator);
        AssertMeasured(supportView, supportAnswers, identity.Calibrator);
        Assert.True(searchView.GetProperty("drifted").GetBoolean());
        Assert.Contains("overconfident", searchView.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.False(supportView.GetProperty("drifted").GetBoolean());
        Assert.Equal(1, searchView.GetProperty("version").GetInt32());

        // A version fitted to search's labels: right for search, wrong for support.
        var refit = new CalibratorArtifact(SignalNames.GeometricMeanProbability, CalibratorFitter.Fit([.. searchAnswers.Select(a => a.Raw)], [.. searchAnswers.Select(a => a.Correct)]).Calibrator);
        await SaveCalibratorAsync(refit);

        var searchAfter = Single(await ReportAsync(search));
        var supportAfter = Single(await ReportAsync(support));

        Assert.Equal(2, searchAfter.GetProperty("version").GetInt32());
        AssertMeasured(searchAfter, searchAnswers, refit.Calibrator);
        Assert.False(searchAfter.GetProperty("drifted").GetBoolean());
        Assert.True(supportAfter.GetProperty("drifted").GetBoolean());
        var before = Assert.Single(searchAfter.GetProperty("served").EnumerateArray());
        Assert.Equal((1, LabelsPerTeam), (before.GetProperty("version").GetInt32(), before.GetProperty("answers").GetInt32()));
        Assert.Equal(searchView.GetProperty("current").GetProperty("ece").GetDouble(), before.GetProperty("measurement").GetProperty("ece").GetDouble(), 12);
        Assert.True(searchAfter.GetProperty("current").GetProperty("ece").GetDouble() < before.GetProperty("measurement").GetProperty("ece").GetDouble() / 3);
    }

    [Fact]
    public async Task Without_labels_the_report_is_empty_and_without_a_key_it_is_401()
    {
        var key = await TeamKeys.CreateAsync(_client, AdminKey, "quiet");

        var report = await ReportAsync(key);
        using var anonymous = await TeamKeys.SendAsync(_client, null, HttpMethod.Get, "/v1/reports/calibration-drift", null);

        Assert.Empty(report.GetProperty("calibrators").EnumerateArray());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("missing_api_key", JsonDocument.Parse(await anonymous.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_report_page_has_the_drift_panel()
    {
        var page = await _client.GetStringAsync("/reports");

        Assert.Contains("/v1/reports/calibration-drift", page, StringComparison.Ordinal);
        Assert.Contains("id=\"drift-table\"", page, StringComparison.Ordinal);
    }

    /// <summary>The window's numbers equal those computed here from the test's own answers.</summary>
    private static void AssertMeasured(JsonElement window, IReadOnlyList<(double Raw, bool Correct)> answers, Calibrator calibrator)
    {
        var confidences = answers.Select(a => calibrator.Calibrate(a.Raw)).ToArray();
        var labels = answers.Select(a => a.Correct).ToArray();
        var current = window.GetProperty("current");
        Assert.Equal((Model, Model, LabelsPerTeam), (window.GetProperty("model").GetString(), window.GetProperty("calibrator").GetString(), window.GetProperty("labels").GetInt32()));
        Assert.Equal(labels.Count(c => c) / (double)labels.Length, current.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(confidences.Average(), current.GetProperty("mean_confidence").GetDouble(), 12);
        Assert.Equal(CalibrationMetrics.Ece(confidences, labels, DriftStatistics.BinsFor(labels.Length, 10)), current.GetProperty("ece").GetDouble(), 12);
        Assert.InRange(current.GetProperty("gap").GetDouble(), current.GetProperty("gap_low").GetDouble(), current.GetProperty("gap_high").GetDouble());
    }

    private static JsonElement Single(JsonElement report) => Assert.Single(report.GetProperty("calibrators").EnumerateArray());

    private async Task<JsonElement> ReportAsync(string key)
    {
        using var response = await TeamKeys.SendAsync(_client, key, HttpMethod.Get, "/v1/reports/calibration-drift", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private async Task SaveCalibratorAsync(CalibratorArtifact artifact)
    {
        await using var services = new ServiceCollection().AddLedger(_ledger).BuildServiceProvider();
        await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Calibrator, Model, artifact.ToJson(), "{}");
    }
}

/// <summary>Labelled answers in the ledger, labelled the way callers label them.</summary>
public static class LabelledAnswers
{
    /// <summary>
    /// <paramref name="count"/> answers of <paramref name="model"/> as the Gateway records them
    /// (served by v1 of its calibrator at the raw geometric-mean probability, between 0.45 and 0.95),
    /// each labelled with POST /v1/feedback under <paramref name="key"/>, the key of
    /// <paramref name="team"/> (both null in Open mode): right with probability raw + <paramref name="accuracyShift"/>.
    /// </summary>
    public static async Task<IReadOnlyList<(double Raw, bool Correct)>> WriteAsync(HttpClient gateway, string ledger, string? key, string? team, string model, int count, double accuracyShift, int seed)
    {
        await using var source = NpgsqlDataSource.Create(ledger);
        await using var find = source.CreateCommand("SELECT id FROM teams WHERE name = @name");
        find.Parameters.AddWithValue("name", team ?? string.Empty);
        var teamId = team is null ? null : (Guid?)await find.ExecuteScalarAsync();

        var random = new Random(seed);
        var answers = Enumerable.Range(0, count).Select(i =>
        {
            var raw = 0.45 + 0.5 * random.NextDouble();
            return (Id: $"chatcmpl-{team ?? "open"}-{model.Replace('.', '-')}-{i:D4}", Raw: raw, Correct: random.NextDouble() < raw + accuracyShift);
        }).ToList();
        await new LedgerWriter(source).WriteAsync(
            [
                .. answers.Select(a => new RoutedRequest
                {
                    Id = a.Id,
                    TeamId = teamId,
                    ReceivedAt = DateTimeOffset.UtcNow,
                    Policy = "default",
                    PolicyVersion = "1",
                    Mode = "cascade",
                    FinalModel = model,
                    CalibratorVersion = $"{model}@1",
                    Confidence = a.Raw,
                    Stages = 1,
                    Attempts =
                    [
                        new RoutingAttempt
                        {
                            RequestId = a.Id,
                            Model = model,
                            Signals = string.Create(CultureInfo.InvariantCulture, $$"""{"{{SignalNames.GeometricMeanProbability}}": {{a.Raw:R}}}"""),
                            Confidence = a.Raw,
                            Calibrated = true,
                            CalibratorVersion = $"{model}@1",
                            Decision = "accept",
                        },
                    ],
                }),
            ],
            CancellationToken.None);

        foreach (var answer in answers)
        {
            using var labelled = await TeamKeys.SendAsync(gateway, key, HttpMethod.Post, "/v1/feedback", $$"""{"request_id": "{{answer.Id}}", "correct": {{(answer.Correct ? "true" : "false")}}}""");
            Assert.Equal(HttpStatusCode.OK, labelled.StatusCode);
        }

        return [.. answers.Select(a => (a.Raw, a.Correct))];
    }
}
