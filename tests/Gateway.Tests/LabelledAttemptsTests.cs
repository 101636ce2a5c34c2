using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Domain.Evaluation;
using Router.Domain.Signals;
using Router.Ledger;
using Router.Ledger.Recording;
using Router.Ledger.Reports;
using Router.Ledger.Requests;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Feedback in the ledger feeds calibration refits (router calibrate --from-ledger).</summary>
[Collection(ServerCollection.Name)]
public sealed class LabelledAttemptsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Only_returned_answers_with_feedback_are_labelled_and_enough_of_them_fit_a_calibrator()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        await using var source = NpgsqlDataSource.Create(ledger);
        var requests = Enumerable.Range(0, 50).Select(i => new RoutedRequest
        {
            Id = $"fb-{i}",
            ReceivedAt = DateTimeOffset.UtcNow,
            Policy = "default",
            PolicyVersion = "1",
            Mode = "cascade",
            FinalModel = "llama3.1-70b",
            Stages = 2,
            Attempts =
            [
                new RoutingAttempt { RequestId = $"fb-{i}", Attempt = 0, Model = "llama3.1-8b", Signals = """{"geometric_mean_probability": 0.3}""", Discarded = true, Decision = "escalate" },
                new RoutingAttempt { RequestId = $"fb-{i}", Attempt = 1, Stage = 1, Model = "llama3.1-70b", Signals = string.Create(CultureInfo.InvariantCulture, $$"""{"{{SignalNames.GeometricMeanProbability}}": {{0.5 + i / 100.0}}}"""), Decision = "accept" },
            ],
        }).ToList();
        await new LedgerWriter(source).WriteAsync(requests, CancellationToken.None);
        await using (var feedback = source.CreateCommand("INSERT INTO feedback (request_id, correct, created_at, updated_at) SELECT id, (substring(id from 4)::int % 4) <> 0, now(), now() FROM requests WHERE substring(id from 4)::int < 40"))
        {
            await feedback.ExecuteNonQueryAsync();
        }

        var labelled = await LabelledAttempts.ReadAsync(source, CancellationToken.None);
        var fitted = CalibrationFitting.FromLabelledSignals(labelled.Select(a => (a.Model, a.Signals, a.Correct)));

        Assert.Equal(40, labelled.Count);
        Assert.All(labelled, a => Assert.Equal("llama3.1-70b", a.Model));
        Assert.Equal(30, labelled.Count(a => a.Correct));
        var calibrator = Assert.Single(fitted);
        Assert.Equal(("llama3.1-70b", 40), (calibrator.Name, calibrator.Answers));
    }
}
