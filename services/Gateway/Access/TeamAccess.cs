using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Router.Gateway.Access;

/// <summary>The team behind an API key, with the limits that apply to the call.</summary>
public sealed record Caller(Guid TeamId, string TeamName, Guid KeyId, string KeyPrefix, decimal? MonthlyBudgetUsd, int? RequestsPerMinute);

/// <summary>
/// Resolves API keys to teams and tracks each team's spend this month, reading PostgreSQL at most
/// once per <see cref="AccessOptions.CacheFor"/> per key or team. Spend recorded by this Gateway
/// since the last read is added locally, so a budget holds between reads.
/// </summary>
public sealed class TeamAccess(NpgsqlDataSource dataSource, IOptionsMonitor<AccessOptions> options, TimeProvider time)
{
    private const string FindKey = """
        SELECT k.id, k.prefix, k.revoked_at IS NOT NULL, t.id, t.name, t.monthly_budget_usd, t.requests_per_minute
        FROM api_keys k JOIN teams t ON t.id = k.team_id
        WHERE k.hash = @hash
        """;

    private const string MonthSpend = "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE team_id = @team AND received_at >= @since";

    private readonly ConcurrentDictionary<string, (Caller? Caller, DateTimeOffset Until)> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, Spend> _spend = new();

    /// <summary>The caller for a presented key; null when the key is unknown or revoked.</summary>
    public async Task<Caller?> FindAsync(string presentedKey, CancellationToken cancellationToken)
    {
        var hash = ApiKeys.Hash(presentedKey);
        var now = time.GetUtcNow();
        if (_keys.TryGetValue(hash, out var cached) && cached.Until > now)
        {
            return cached.Caller;
        }

        await using var command = dataSource.CreateCommand(FindKey);
        command.Parameters.AddWithValue("hash", hash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        Caller? caller = null;
        if (await reader.ReadAsync(cancellationToken) && !reader.GetBoolean(2))
        {
            caller = new Caller(
                reader.GetGuid(3),
                reader.GetString(4),
                reader.GetGuid(0),
                reader.GetString(1),
                reader.IsDBNull(5) ? null : reader.GetDecimal(5),
                reader.IsDBNull(6) ? null : reader.GetInt32(6));
        }

        _keys[hash] = (caller, now + options.CurrentValue.CacheFor);
        return caller;
    }

    /// <summary>Forgets cached lookups, so a revocation or a new limit made through this Gateway applies at once.</summary>
    public void Invalidate() => _keys.Clear();

    /// <summary>The team's spend since the start of the current UTC month.</summary>
    public async Task<decimal> MonthSpendAsync(Guid team, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var spend = _spend.GetOrAdd(team, _ => new Spend());
        if (spend.Month != month || spend.Until <= now)
        {
            await using var command = dataSource.CreateCommand(MonthSpend);
            command.Parameters.AddWithValue("team", team);
            command.Parameters.AddWithValue("since", month.UtcDateTime);
            var stored = (decimal)(await command.ExecuteScalarAsync(cancellationToken))!;
            lock (spend)
            {
                (spend.Month, spend.Stored, spend.AddedSinceRead, spend.Until) = (month, stored, 0, now + options.CurrentValue.CacheFor);
            }
        }

        lock (spend)
        {
            return spend.Stored + spend.AddedSinceRead;
        }
    }

    /// <summary>Counts a routed request's cost against its team until the next read of the ledger includes it.</summary>
    public void AddSpend(Guid team, decimal cost)
    {
        var spend = _spend.GetOrAdd(team, _ => new Spend());
        lock (spend)
        {
            spend.AddedSinceRead += cost;
        }
    }

    private sealed class Spend
    {
        public DateTimeOffset Month { get; set; }

        public decimal Stored { get; set; }

        public decimal AddedSinceRead { get; set; }

        public DateTimeOffset Until { get; set; }
    }
}
