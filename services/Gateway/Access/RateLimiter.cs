using Microsoft.Extensions.Options;
using Router.Gateway.Routing;
using StackExchange.Redis;

namespace Router.Gateway.Access;

/// <summary>
/// Per-key requests-per-minute limit in Redis (one counter per key and minute, shared by every
/// Gateway instance). When Redis is unreachable or slower than Routing:CacheTimeout the limit is
/// not enforced (the breaker that skips Redis is named on /health): refusing every caller because the cache is down would be worse.
/// </summary>
public sealed class RateLimiter(IConnectionMultiplexer redis, DependencyBreakers breakers, IOptionsMonitor<RoutingOptions> routing, TimeProvider time)
{
    /// <summary>Null when the call is allowed; otherwise how long until the next window opens.</summary>
    public async Task<TimeSpan?> TryAcquireAsync(Guid keyId, int perMinute)
    {
        var now = time.GetUtcNow();
        var window = now.ToUnixTimeSeconds() / 60;
        var counter = new RedisKey($"ratelimit:{keyId:N}:{window}");
        var (count, failure) = await breakers.CallAsync(
            DependencyBreakers.Cache,
            routing.CurrentValue.CacheTimeout,
            async _ =>
            {
                var database = redis.GetDatabase();
                var count = await database.StringIncrementAsync(counter);
                if (count == 1)
                {
                    await database.KeyExpireAsync(counter, TimeSpan.FromMinutes(2), CommandFlags.FireAndForget);
                }

                return count;
            },
            0L,
            CancellationToken.None);
        if (failure is not null)
        {
            return null;
        }

        return count <= perMinute ? null : TimeSpan.FromSeconds(60 - (now.ToUnixTimeSeconds() % 60));
    }
}
