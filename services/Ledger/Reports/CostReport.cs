using System.Globalization;
using Npgsql;

namespace Router.Ledger.Reports;

public enum ReportGrouping
{
    Day,
    Team,
    Model,
    Policy,
}

/// <summary>One group of a cost report: what was spent, what the top model alone would have cost, and at what accuracy.</summary>
public sealed record CostReportRow(
    string Group,
    long Requests,
    decimal SpendUsd,
    decimal CounterfactualUsd,
    double SavingsPercent,
    IReadOnlyList<double> EscalationRate,
    long Labelled,
    double? Accuracy,
    double P50LatencyMs,
    double P95LatencyMs);

public sealed record CostReport(DateTimeOffset From, DateTimeOffset To, ReportGrouping GroupBy, IReadOnlyList<CostReportRow> Rows, CostReportRow Totals);

/// <summary>
/// The finance view of the ledger for a time range, grouped by day, team, final model or policy.
/// Escalation rate at stage s is the share of requests that went past their s-th attempt;
/// accuracy is over the requests that have feedback (a label, or the mean of graded scores).
/// </summary>
public sealed class CostReportQuery(NpgsqlDataSource ledger)
{
    private const string Groups = """
        WITH scoped AS (
            SELECT r.id, r.cost_usd, r.counterfactual_cost_usd, r.latency_ms, r.stages,
                   CASE @grouping
                       WHEN 'team' THEN COALESCE(t.name, '(no team)')
                       WHEN 'model' THEN COALESCE(r.final_model, '(no answer)')
                       WHEN 'policy' THEN r.policy
                       WHEN 'all' THEN 'total'
                       ELSE to_char(r.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                   END AS grp
            FROM requests r LEFT JOIN teams t ON t.id = r.team_id
            WHERE r.received_at >= @from AND r.received_at < @to AND (@team IS NULL OR r.team_id = @team))
        SELECT s.grp,
               count(*),
               COALESCE(sum(s.cost_usd), 0),
               COALESCE(sum(s.counterfactual_cost_usd), 0),
               count(f.request_id),
               avg(CASE WHEN f.correct IS TRUE THEN 1.0 WHEN f.correct IS FALSE THEN 0.0 ELSE f.score END),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY s.latency_ms),
               array_agg(s.stages)
        FROM scoped s LEFT JOIN feedback f ON f.request_id = s.id
        GROUP BY s.grp
        ORDER BY s.grp
        """;

    /// <summary>The report over every team, or over <paramref name="team"/>'s requests only.</summary>
    public async Task<CostReport> RunAsync(DateTimeOffset from, DateTimeOffset to, ReportGrouping grouping, Guid? team, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(from, to, grouping.ToString().ToLowerInvariant(), team, cancellationToken);
        var totals = (await QueryAsync(from, to, "all", team, cancellationToken)).SingleOrDefault()
            ?? new CostReportRow("total", 0, 0, 0, 0, [], 0, null, 0, 0);
        return new CostReport(from, to, grouping, rows, totals);
    }

    private async Task<List<CostReportRow>> QueryAsync(DateTimeOffset from, DateTimeOffset to, string grouping, Guid? team, CancellationToken cancellationToken)
    {
        await using var command = ledger.CreateCommand(Groups);
        command.Parameters.AddWithValue("grouping", grouping);
        command.Parameters.AddWithValue("from", from.UtcDateTime);
        command.Parameters.AddWithValue("to", to.UtcDateTime);
        command.Parameters.Add(new NpgsqlParameter<Guid?>("team", NpgsqlTypes.NpgsqlDbType.Uuid) { TypedValue = team });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<CostReportRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var requests = reader.GetInt64(1);
            var spend = reader.GetDecimal(2);
            var counterfactual = reader.GetDecimal(3);
            var stages = reader.GetFieldValue<int[]>(8);
            var deepest = stages.DefaultIfEmpty(1).Max();
            rows.Add(new CostReportRow(
                reader.GetString(0),
                requests,
                spend,
                counterfactual,
                counterfactual > 0 ? (double)(1 - spend / counterfactual) * 100 : 0,
                [.. Enumerable.Range(1, Math.Max(0, deepest - 1)).Select(s => stages.Count(n => n > s) / (double)requests)],
                reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5),
                reader.IsDBNull(6) ? 0 : reader.GetDouble(6),
                reader.IsDBNull(7) ? 0 : reader.GetDouble(7)));
        }

        return rows;
    }

    /// <summary>The report as CSV, one row per group and a final total row; escalation rates are ';'-separated per stage.</summary>
    public static string ToCsv(CostReport report)
    {
        var csv = new System.Text.StringBuilder("group,requests,spend_usd,counterfactual_usd,savings_percent,escalation_rate,labelled,accuracy,p50_latency_ms,p95_latency_ms\n");
        foreach (var row in report.Rows.Append(report.Totals))
        {
            csv.Append(CultureInfo.InvariantCulture, $"\"{row.Group.Replace("\"", "\"\"", StringComparison.Ordinal)}\",{row.Requests},{row.SpendUsd},{row.CounterfactualUsd},{row.SavingsPercent:F2},{string.Join(';', row.EscalationRate.Select(r => r.ToString("F4", CultureInfo.InvariantCulture)))},{row.Labelled},{row.Accuracy?.ToString("F4", CultureInfo.InvariantCulture)},{row.P50LatencyMs:F1},{row.P95LatencyMs:F1}\n");
        }

        return csv.ToString();
    }
}
