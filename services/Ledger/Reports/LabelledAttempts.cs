using System.Text.Json;
using Npgsql;

namespace Router.Ledger.Reports;

/// <summary>An answer the router returned, a caller labelled, with the signals it was scored on.</summary>
public sealed record LabelledAttempt(string Model, IReadOnlyDictionary<string, double> Signals, bool Correct);

/// <summary>
/// The ledger's labelled answers, for refitting calibrators from production traffic: feedback
/// labels the answer that was returned, so only accepted (not discarded) attempts are labelled.
/// A graded score counts as correct from 0.5.
/// </summary>
public static class LabelledAttempts
{
    private const string Query = """
        SELECT a.model, a.signals::text, COALESCE(f.correct, f.score >= 0.5)
        FROM attempts a JOIN feedback f ON f.request_id = a.request_id
        WHERE NOT a.discarded AND a.error IS NULL AND (f.correct IS NOT NULL OR f.score IS NOT NULL)
        """;

    public static async Task<IReadOnlyList<LabelledAttempt>> ReadAsync(NpgsqlDataSource ledger, CancellationToken cancellationToken)
    {
        await using var command = ledger.CreateCommand(Query);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var attempts = new List<LabelledAttempt>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var signals = JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(1)) ?? [];
            attempts.Add(new LabelledAttempt(reader.GetString(0), signals, reader.GetBoolean(2)));
        }

        return attempts;
    }
}
