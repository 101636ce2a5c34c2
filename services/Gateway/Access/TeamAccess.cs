using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Router.Gateway.Access;

/// <summary>The team behind an API key, with the limits that apply to the call.</summary>
public sealed record Caller(Guid TeamId, string TeamName, Guid KeyId, string KeyPrefix, decimal? MonthlyBudgetUsd, int? RequestsPerMinute);

/// <summary>
/// Resolves API keys to teams and tracks each team's spend this month. A key seen before is
/// answered from memory at once; once its entry is older than <see cref="AccessOptions.CacheFor"/>
/// one background read of PostgreSQL refreshes it (the same for a team's spend). So requests never
/// wait on PostgreSQL for a known key, and while PostgreSQL is down they are served from the last
/// known keys and spend: a refresh that fails keeps the entry and is tried again a CacheFor later.
/// Only a key never seen needs PostgreSQL to answer. Spend recorded by this Gateway since the last
/// read is added locally, so a budget holds between reads.
/// </summary>
public sealed partial class TeamAccess(NpgsqlDataSource dataSource, IOptionsMonitor<AccessOptions> options, TimeProvider time, ILogger<TeamAccess> logger)
{
    private const string FindKey = """
        SELECT k.id, k.prefix, k.revoked_at IS NOT NULL, t.id, t.name, t.monthly_budget_usd, t.requests_per_minute
        FROM api_keys k JOIN teams t ON t.id = k.team_id
        WHERE k.hash = @hash
        """;

    private const string MonthSpend = "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE team_id = @team AND received_at >= @since";

    private readonly ConcurrentDictionary<string, KeyEntry> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, Spend> _spend = new();

    /// <summary>The caller for a presented key; null when the key is unknown or revoked. Throws NpgsqlException only for a key never seen while PostgreSQL is unreachable.</summary>
    public async Task<Caller?> FindAsync(string presentedKey, CancellationToken cancellationToken)
    {
        var hash = ApiKeys.Hash(presentedKey);
        if (_keys.TryGetValue(hash, out var known))
        {
            if (known.Until <= time.GetUtcNow() && known.TryStartRefresh())
            {
                _ = RefreshKeyAsync(hash, known);
            }

            return known.Caller;
        }

        var caller = await LookUpAsync(hash, cancellationToken);
        _keys[hash] = new KeyEntry(caller, time.GetUtcNow() + options.CurrentValue.CacheFor);
        return caller;
    }

    /// <summary>Forgets cached lookups, so a revocation or a new limit made through this Gateway applies at once.</summary>
    public void Invalidate() => _keys.Clear();

    /// <summary>The team's spend since the start of the current UTC month, as far as this Gateway knows it.</summary>
    public async Task<decimal> MonthSpendAsync(Guid team, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var spend = _spend.GetOrAdd(team, _ => new Spend());
        if (spend.Month != month)
        {
            // Never read, or a new month began: nothing known is worth serving, so this read is waited for.
            decimal stored = 0;
            try
            {
                stored = await ReadSpendAsync(team, month, cancellationToken);
            }
            catch (Exception e) when (IsOutage(e))
            {
                // Refusing the team because our database is down would be worse than a budget
                // that counts only this Gateway's spend until PostgreSQL is back.
                LogSpendUnknown(logger, team, e.Message);
            }

            spend.Reset(month, stored, time.GetUtcNow() + options.CurrentValue.CacheFor);
        }
        else if (spend.Until <= now && spend.TryStartRefresh())
        {
            _ = RefreshSpendAsync(team, month, spend);
        }

        return spend.Total;
    }

    /// <summary>Counts a routed request's cost against its team until the next read of the ledger includes it.</summary>
    public void AddSpend(Guid team, decimal cost) => _spend.GetOrAdd(team, _ => new Spend()).Add(cost);

    private static bool IsOutage(Exception e) => e is NpgsqlException or TimeoutException;

    private async Task<Caller?> LookUpAsync(string hash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(FindKey);
        command.Parameters.AddWithValue("hash", hash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken) || reader.GetBoolean(2))
        {
            return null;
        }

        return new Caller(
            reader.GetGuid(3),
            reader.GetString(4),
            reader.GetGuid(0),
            reader.GetString(1),
            reader.IsDBNull(5) ? null : reader.GetDecimal(5),
            reader.IsDBNull(6) ? null : reader.GetInt32(6));
    }

    private async Task RefreshKeyAsync(string hash, KeyEntry known)
    {
        try
        {
            var caller = await LookUpAsync(hash, CancellationToken.None);

            // Only over the entry it refreshes: an Invalidate() meanwhile must not be undone by an older read.
            _keys.TryUpdate(hash, new KeyEntry(caller, time.GetUtcNow() + options.CurrentValue.CacheFor), known);
        }
        catch (Exception e)
        {
            // Nothing awaits a background refresh: whatever went wrong, the last known answer is kept and retried later.
            LogServingLastKnown(logger, known.Caller?.KeyPrefix ?? "(unknown key)", e.Message);
            known.Renew(time.GetUtcNow() + options.CurrentValue.CacheFor);
        }
    }

    private async Task RefreshSpendAsync(Guid team, DateTimeOffset month, Spend spend)
    {
        try
        {
            var stored = await ReadSpendAsync(team, month, CancellationToken.None);
            spend.Reset(month, stored, time.GetUtcNow() + options.CurrentValue.CacheFor);
        }
        catch (Exception e)
        {
            LogSpendUnknown(logger, team, e.Message);
            spend.Renew(time.GetUtcNow() + options.CurrentValue.CacheFor);
        }
    }

    private async Task<decimal> ReadSpendAsync(Guid team, DateTimeOffset month, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(MonthSpend);
        command.Parameters.AddWithValue("team", team);
        command.Parameters.AddWithValue("since", month.UtcDateTime);
        return (decimal)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "API key {Prefix}... served from its last known lookup: it could not be read again ({Error})")]
    private static partial void LogServingLastKnown(ILogger logger, string prefix, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spend of team {Team} served from what this Gateway knows: it could not be read ({Error})")]
    private static partial void LogSpendUnknown(ILogger logger, Guid team, string error);

    /// <summary>Something read from PostgreSQL, valid until <see cref="Until"/>, with at most one refresh running.</summary>
    private abstract class Refreshable
    {
        private int _refreshing;

        public DateTimeOffset Until { get; protected set; }

        public bool TryStartRefresh() => Interlocked.Exchange(ref _refreshing, 1) == 0;

        /// <summary>Valid (or, after a failed refresh, served as it is) until <paramref name="until"/>; a later refresh may start.</summary>
        public void Renew(DateTimeOffset until)
        {
            Until = until;
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private sealed class KeyEntry : Refreshable
    {
        public KeyEntry(Caller? caller, DateTimeOffset until)
        {
            Caller = caller;
            Until = until;
        }

        public Caller? Caller { get; }
    }

    private sealed class Spend : Refreshable
    {
        private readonly Lock _lock = new();
        private decimal _stored;
        private decimal _addedSinceRead;

        public DateTimeOffset Month { get; private set; }

        public decimal Total
        {
            get
            {
                lock (_lock)
                {
                    return _stored + _addedSinceRead;
                }
            }
        }

        public void Reset(DateTimeOffset month, decimal stored, DateTimeOffset until)
        {
            lock (_lock)
            {
                (Month, _stored, _addedSinceRead) = (month, stored, 0);
            }

            Renew(until);
        }

        public void Add(decimal cost)
        {
            lock (_lock)
            {
                _addedSinceRead += cost;
            }
        }
    }
}
