using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Google.Protobuf;
using Router.Contracts;
using StackExchange.Redis;

namespace Router.Scoring;

/// <summary>
/// Scores cached in Redis under (model, prompt hash, output hash, calibrator version) with a TTL:
/// the same answer scored again costs a Redis round trip, and a new calibrator version misses by
/// construction. Redis failures are counted and the caller scores uncached.
/// </summary>
public sealed partial class ScoreCache(IConnectionMultiplexer redis, IMeterFactory meters, ILogger<ScoreCache> logger)
{
    public static TimeSpan Ttl { get; set; } = TimeSpan.FromHours(6);

    private readonly Counter<long> _lookups = meters.Create("Router.Scoring").CreateCounter<long>("router.scoring.cache_lookups", description: "Score cache lookups by result (hit, miss, error).");

    public static string Key(ScoreAttemptRequest request, string calibratorVersion)
    {
        var prompt = new ScoreAttemptRequest { Messages = { request.Messages } }.ToByteArray();
        var output = new ScoreAttemptRequest { Answer = request.Answer, Tokens = { request.Tokens }, Samples = { request.Samples }, Options = request.Options, TaskFamily = request.TaskFamily }.ToByteArray();
        return $"score:{request.Model}:{Hash(prompt)}:{Hash(output)}:{calibratorVersion}";
    }

    public async Task<ScoreAttemptResponse?> GetAsync(string key)
    {
        try
        {
            var value = await redis.GetDatabase().StringGetAsync(key);
            _lookups.Add(1, new KeyValuePair<string, object?>("result", value.HasValue ? "hit" : "miss"));
            return value.HasValue ? ScoreAttemptResponse.Parser.ParseFrom((byte[])value!) : null;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _lookups.Add(1, new KeyValuePair<string, object?>("result", "error"));
            LogUnavailable(logger, e.Message);
            return null;
        }
    }

    /// <summary>Stores without waiting for Redis, so the write is not on the caller's path; Redis runs it before any later lookup of this process.</summary>
    public void Store(string key, ScoreAttemptResponse response)
    {
        try
        {
            redis.GetDatabase().StringSet(key, response.ToByteArray(), Ttl, flags: CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogUnavailable(logger, e.Message);
        }
    }

    private static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes))[..32];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Score cache unavailable ({Error}); scoring uncached")]
    private static partial void LogUnavailable(ILogger logger, string error);
}
