using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Router.Ledger.Requests;

namespace Router.Ledger.Recording;

/// <summary>
/// Writes batches of routed requests and their attempts in one transaction, as set-based inserts
/// over arrays. Rows already present are skipped, so re-sending a batch after a crash between the
/// insert and the journal checkpoint never writes a request twice. The attempts and the daily
/// rollups are built here from the requests PostgreSQL reports new, rather than filtered and
/// aggregated there: the database shares the router's cores in small deployments.
/// </summary>
public sealed class LedgerWriter(NpgsqlDataSource dataSource)
{
    private const string InsertRequests = """
        INSERT INTO requests (id, team_id, received_at, policy, policy_version, mode, final_model, calibrator_version,
                              confidence, latency_ms, cost_usd, counterfactual_cost_usd, stages, simulated, error)
        SELECT * FROM unnest(@id, @team_id, @received_at, @policy, @policy_version, @mode, @final_model, @calibrator_version,
                             @confidence, @latency_ms, @cost_usd, @counterfactual_cost_usd, @stages, @simulated, @error)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """;

    private const string InsertAttempts = """
        INSERT INTO attempts (request_id, attempt, stage, model, prompt_tokens, completion_tokens, cost_usd, recipe, extra_prompt_tokens,
                              extra_completion_tokens, extra_cost_usd, extra_calls, latency_ms, signals,
                              confidence, calibrated, calibrator_version, decision, reason, threshold, discarded, error,
                              abort_group_confidence, aborted_at_token)
        SELECT request_id, attempt, stage, model, prompt_tokens, completion_tokens, cost_usd, recipe, extra_prompt_tokens,
               extra_completion_tokens, extra_cost_usd, extra_calls::jsonb, latency_ms, signals::jsonb,
               confidence, calibrated, calibrator_version, decision, reason, threshold, discarded, error,
               abort_group_confidence, aborted_at_token
        FROM unnest(@request_id, @attempt, @stage, @model, @prompt_tokens, @completion_tokens, @cost_usd, @recipe, @extra_prompt_tokens,
                    @extra_completion_tokens, @extra_cost_usd, @extra_calls, @latency_ms, @signals,
                    @confidence, @calibrated, @calibrator_version, @decision, @reason, @threshold, @discarded, @error,
                    @abort_group_confidence, @aborted_at_token)
             AS a(request_id, attempt, stage, model, prompt_tokens, completion_tokens, cost_usd, recipe, extra_prompt_tokens,
                  extra_completion_tokens, extra_cost_usd, extra_calls, latency_ms, signals,
                  confidence, calibrated, calibrator_version, decision, reason, threshold, discarded, error,
                  abort_group_confidence, aborted_at_token)
        """;

    // Only the requests this batch inserted are added, so a re-sent batch does not count twice.
    private const string Rollup = """
        INSERT INTO daily_rollups (day, team_id, policy, final_model, requests, failed, cost_usd, counterfactual_cost_usd, attempts)
        SELECT * FROM unnest(@day, @team_id, @policy, @final_model, @requests, @failed, @cost_usd, @counterfactual_cost_usd, @attempts)
        ON CONFLICT (day, team_id, policy, final_model) DO UPDATE SET
            requests = daily_rollups.requests + EXCLUDED.requests,
            failed = daily_rollups.failed + EXCLUDED.failed,
            cost_usd = daily_rollups.cost_usd + EXCLUDED.cost_usd,
            counterfactual_cost_usd = daily_rollups.counterfactual_cost_usd + EXCLUDED.counterfactual_cost_usd,
            attempts = daily_rollups.attempts + EXCLUDED.attempts
        """;

    /// <summary>Writes the batch; returns how many requests were new.</summary>
    public async Task<int> WriteAsync(IReadOnlyList<RoutedRequest> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var inserted = new List<string>(batch.Count);
        await using (var requests = new NpgsqlCommand(InsertRequests, connection, transaction))
        {
            var p = requests.Parameters;
            p.Add(Array("id", NpgsqlDbType.Text, batch.Select(r => r.Id)));
            p.Add(Array("team_id", NpgsqlDbType.Uuid, batch.Select(r => r.TeamId)));
            p.Add(Array("received_at", NpgsqlDbType.TimestampTz, batch.Select(r => r.ReceivedAt.UtcDateTime)));
            p.Add(Array("policy", NpgsqlDbType.Text, batch.Select(r => r.Policy)));
            p.Add(Array("policy_version", NpgsqlDbType.Text, batch.Select(r => r.PolicyVersion)));
            p.Add(Array("mode", NpgsqlDbType.Text, batch.Select(r => r.Mode)));
            p.Add(Array("final_model", NpgsqlDbType.Text, batch.Select(r => r.FinalModel)));
            p.Add(Array("calibrator_version", NpgsqlDbType.Text, batch.Select(r => r.CalibratorVersion)));
            p.Add(Array("confidence", NpgsqlDbType.Double, batch.Select(r => r.Confidence)));
            p.Add(Array("latency_ms", NpgsqlDbType.Double, batch.Select(r => r.LatencyMs)));
            p.Add(Array("cost_usd", NpgsqlDbType.Numeric, batch.Select(r => r.CostUsd)));
            p.Add(Array("counterfactual_cost_usd", NpgsqlDbType.Numeric, batch.Select(r => r.CounterfactualCostUsd)));
            p.Add(Array("stages", NpgsqlDbType.Integer, batch.Select(r => r.Stages)));
            p.Add(Array("simulated", NpgsqlDbType.Boolean, batch.Select(r => r.Simulated)));
            p.Add(Array("error", NpgsqlDbType.Text, batch.Select(r => r.Error)));
            await using var reader = await requests.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(reader.GetString(0));
            }
        }

        // An id twice in one batch is stored once, from its first line, as PostgreSQL skips the second.
        var insertedIds = inserted.ToHashSet(StringComparer.Ordinal);
        var insertedRequests = batch.Where(r => insertedIds.Remove(r.Id)).ToList();
        var attempts = insertedRequests.SelectMany(r => r.Attempts).ToList();
        if (attempts.Count > 0)
        {
            await using var command = new NpgsqlCommand(InsertAttempts, connection, transaction);
            var p = command.Parameters;
            p.Add(Array("request_id", NpgsqlDbType.Text, attempts.Select(a => a.RequestId)));
            p.Add(Array("attempt", NpgsqlDbType.Integer, attempts.Select(a => a.Attempt)));
            p.Add(Array("stage", NpgsqlDbType.Integer, attempts.Select(a => a.Stage)));
            p.Add(Array("model", NpgsqlDbType.Text, attempts.Select(a => a.Model)));
            p.Add(Array("prompt_tokens", NpgsqlDbType.Integer, attempts.Select(a => a.PromptTokens)));
            p.Add(Array("completion_tokens", NpgsqlDbType.Integer, attempts.Select(a => a.CompletionTokens)));
            p.Add(Array("cost_usd", NpgsqlDbType.Numeric, attempts.Select(a => a.CostUsd)));
            p.Add(Array("recipe", NpgsqlDbType.Text, attempts.Select(a => a.Recipe)));
            p.Add(Array("extra_prompt_tokens", NpgsqlDbType.Integer, attempts.Select(a => a.ExtraPromptTokens)));
            p.Add(Array("extra_completion_tokens", NpgsqlDbType.Integer, attempts.Select(a => a.ExtraCompletionTokens)));
            p.Add(Array("extra_cost_usd", NpgsqlDbType.Numeric, attempts.Select(a => a.ExtraCostUsd)));
            p.Add(Array("extra_calls", NpgsqlDbType.Text, attempts.Select(a => a.ExtraCalls)));
            p.Add(Array("latency_ms", NpgsqlDbType.Double, attempts.Select(a => a.LatencyMs)));
            p.Add(Array("signals", NpgsqlDbType.Text, attempts.Select(a => a.Signals)));
            p.Add(Array("confidence", NpgsqlDbType.Double, attempts.Select(a => a.Confidence)));
            p.Add(Array("calibrated", NpgsqlDbType.Boolean, attempts.Select(a => a.Calibrated)));
            p.Add(Array("calibrator_version", NpgsqlDbType.Text, attempts.Select(a => a.CalibratorVersion)));
            p.Add(Array("decision", NpgsqlDbType.Text, attempts.Select(a => a.Decision)));
            p.Add(Array("reason", NpgsqlDbType.Text, attempts.Select(a => a.Reason)));
            p.Add(Array("threshold", NpgsqlDbType.Double, attempts.Select(a => a.Threshold)));
            p.Add(Array("discarded", NpgsqlDbType.Boolean, attempts.Select(a => a.Discarded)));
            p.Add(Array("error", NpgsqlDbType.Text, attempts.Select(a => a.Error)));
            p.Add(Array("abort_group_confidence", NpgsqlDbType.Double, attempts.Select(a => a.AbortGroupConfidence)));
            p.Add(Array("aborted_at_token", NpgsqlDbType.Integer, attempts.Select(a => a.AbortedAtToken)));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        if (insertedRequests.Count > 0)
        {
            var rollups = DailyRollups(insertedRequests);
            await using var rollup = new NpgsqlCommand(Rollup, connection, transaction);
            var p = rollup.Parameters;
            p.Add(Array("day", NpgsqlDbType.Date, rollups.Select(r => r.Key.Day)));
            p.Add(Array("team_id", NpgsqlDbType.Uuid, rollups.Select(r => r.Key.TeamId)));
            p.Add(Array("policy", NpgsqlDbType.Text, rollups.Select(r => r.Key.Policy)));
            p.Add(Array("final_model", NpgsqlDbType.Text, rollups.Select(r => r.Key.FinalModel)));
            p.Add(Array("requests", NpgsqlDbType.Bigint, rollups.Select(r => r.Requests)));
            p.Add(Array("failed", NpgsqlDbType.Bigint, rollups.Select(r => r.Failed)));
            p.Add(Array("cost_usd", NpgsqlDbType.Numeric, rollups.Select(r => r.CostUsd)));
            p.Add(Array("counterfactual_cost_usd", NpgsqlDbType.Numeric, rollups.Select(r => r.CounterfactualCostUsd)));
            p.Add(Array("attempts", NpgsqlDbType.Bigint, rollups.Select(r => r.Attempts)));
            await rollup.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return inserted.Count;
    }

    private const string InsertDeadLetters = """
        INSERT INTO dead_letters (set_aside_at, kind, source, request_id, sql_state, error, line, line_sha256)
        SELECT * FROM unnest(@set_aside_at, @kind, @source, @request_id, @sql_state, @error, @line, @line_sha256)
        ON CONFLICT (line_sha256) DO NOTHING
        """;

    private const string LatestDeadLetters = """
        SELECT kind, request_id, source, error, count(*) OVER () FROM dead_letters
        WHERE resolved_at IS NULL ORDER BY id DESC LIMIT @latest
        """;

    /// <summary>The database this writer reaches, as host:port/database (no credentials).</summary>
    public string Target { get; } = Describe(dataSource.ConnectionString);

    /// <summary>
    /// Whether PostgreSQL refused the rows themselves (data exceptions, constraint violations, a
    /// value over a limit), which no retry can fix, rather than failed to take them at all.
    /// </summary>
    public static bool IsRowError(Exception error) => error is PostgresException { SqlState: var state } && IsRowError(state);

    /// <summary>SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation), and 54000 (a value over a program limit).</summary>
    public static bool IsRowError(string sqlState) =>
        sqlState.StartsWith("22", StringComparison.Ordinal) || sqlState.StartsWith("23", StringComparison.Ordinal) || sqlState == "54000";

    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return string.Create(CultureInfo.InvariantCulture, $"{builder.Host}:{builder.Port}/{builder.Database}");
    }

    /// <summary>The id of this ledger database (written once by the schema migration).</summary>
    public async Task<Guid> DatabaseIdAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM ledger_identity LIMIT 1");
        return (Guid)(await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException("The ledger database has no ledger_identity row; run the migrations."));
    }

    /// <summary>Keeps lines that could not become rows; returns how many were new (a line set aside twice is kept once).</summary>
    public async Task<int> SetAsideAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(InsertDeadLetters);
        var p = command.Parameters;
        p.Add(Array("set_aside_at", NpgsqlDbType.TimestampTz, letters.Select(l => l.SetAsideAt.UtcDateTime)));
        p.Add(Array("kind", NpgsqlDbType.Text, letters.Select(l => l.Kind)));
        p.Add(Array("source", NpgsqlDbType.Text, letters.Select(l => l.Source)));
        p.Add(Array("request_id", NpgsqlDbType.Text, letters.Select(l => l.RequestId)));
        p.Add(Array("sql_state", NpgsqlDbType.Text, letters.Select(l => l.SqlState)));
        p.Add(Array("error", NpgsqlDbType.Text, letters.Select(l => l.Error)));
        p.Add(Array("line", NpgsqlDbType.Bytea, letters.Select(l => l.Line)));
        p.Add(Array("line_sha256", NpgsqlDbType.Bytea, letters.Select(l => l.LineSha256)));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How many set-aside lines nobody has replayed or discarded yet, and the latest of them.</summary>
    public async Task<DeadLetterSummary> DeadLetterSummaryAsync(int latest, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(LatestDeadLetters);
        command.Parameters.AddWithValue("latest", latest);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var letters = new List<string>();
        long count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            letters.Add(DeadLetter.Describe(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            count = reader.GetInt64(4);
        }

        return new DeadLetterSummary(count, letters);
    }

    /// <summary>Checks that PostgreSQL accepts connections, so health recovers while there is nothing to write.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT 1");
        await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>
    /// The requests' sums per UTC day, team, policy and final model, as the stored rows would give them:
    /// amounts rounded to the columns' 8 decimals first, as PostgreSQL rounds them on insert.
    /// </summary>
    public static List<RollupRow> DailyRollups(IEnumerable<RoutedRequest> requests) =>
        [.. requests
            .GroupBy(r => new RollupKey(DateOnly.FromDateTime(r.ReceivedAt.UtcDateTime), r.TeamId ?? Guid.Empty, r.Policy, r.FinalModel ?? string.Empty))
            .Select(g => new RollupRow(
                g.Key,
                g.LongCount(),
                g.LongCount(r => r.Error is not null),
                g.Sum(r => AsStored(r.CostUsd)),
                g.Sum(r => AsStored(r.CounterfactualCostUsd)),
                g.Sum(r => (long)r.Stages)))];

    private static decimal AsStored(decimal usd) => Math.Round(usd, 8, MidpointRounding.AwayFromZero);

    private static NpgsqlParameter Array<T>(string name, NpgsqlDbType type, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | type) { Value = values.ToArray() };
}

public readonly record struct RollupKey(DateOnly Day, Guid TeamId, string Policy, string FinalModel);

/// <summary>One <c>daily_rollups</c> row's worth of a batch.</summary>
public sealed record RollupRow(RollupKey Key, long Requests, long Failed, decimal CostUsd, decimal CounterfactualCostUsd, long Attempts);

/// <summary>Unresolved dead letters: how many, and a description of the latest few.</summary>
public sealed record DeadLetterSummary(long Count, IReadOnlyList<string> Latest)
{
    public static DeadLetterSummary None { get; } = new(0, []);
}
