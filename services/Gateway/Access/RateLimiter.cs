using StackExchange.Redis;

namespace Router.Gateway.Access;

/// <summary>
/// Per-key requests-per-minute limit in Redis (one counter per key and minute, shared by every
/// Gateway instance). When Redis is unreachable the limit is not enforced and the miss is
/// counted: refusing every caller because the cache is down would be worse.
/// </summary>
public sealed partial class RateLimiter(IConnectionMultiplexer redis, TimeProvider time, ILogger<RateLimiter> logger)
{
    /// <summary>Null when the call is allowed; otherwise how long until the next window opens.</summary>
    public async Task<TimeSpan?> TryAcquireAsync(Guid keyId, int perMinute)
    {
        var now = time.GetUtcNow();
        var window = now.ToUnixTimeSeconds() / 60;
        var counter = new RedisKey($"ratelimit:{keyId:N}:{window}");
        try
        {
            var database = redis.GetDatabase();
            var count = await database.StringIncrementAsync(counter);
            if (count == 1)
            {
                await database.KeyExpireAsync(counter, TimeSpan.FromMinutes(2), CommandFlags.FireAndForget);
            }

            return count <= perMinute ? null : TimeSpan.FromSeconds(60 - (now.ToUnixTimeSeconds() % 60));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogUnenforced(logger, e.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate limit not enforced: Redis is unreachable ({Error})")]
    private static partial void LogUnenforced(ILogger logger, string error);
}
