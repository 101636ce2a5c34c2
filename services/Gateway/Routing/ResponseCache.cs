using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Routing;
using StackExchange.Redis;

namespace Router.Gateway.Routing;

/// <summary>The Gateway's response cache in Redis ("ResponseCache" section); off unless enabled.</summary>
public sealed class ResponseCacheOptions
{
    public const string SectionName = "ResponseCache";

    /// <summary>
    /// Off by default: a repeated deterministic request is then answered from Redis at no model
    /// cost, which is right for a product's traffic but wrong for an evaluation that means to
    /// route the same question again.
    /// </summary>
    public bool Enabled { get; set; }

    public TimeSpan Ttl { get; set; } = TimeSpan.FromHours(1);
}

public sealed class ResponseCacheOptionsValidator : IValidateOptions<ResponseCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, ResponseCacheOptions options) =>
        options.Ttl > TimeSpan.Zero
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{ResponseCacheOptions.SectionName}:Ttl: must be positive, got {options.Ttl}.");
}

/// <summary>What a request's Cache-Control header asks of the response cache.</summary>
public enum CacheUse
{
    /// <summary>Serve a cached answer when there is one; store a new one.</summary>
    Use,

    /// <summary>Cache-Control: no-cache: route afresh, then store the new answer.</summary>
    Refresh,

    /// <summary>Cache-Control: no-store: neither read nor write the cache.</summary>
    Bypass,
}

/// <summary>
/// Accepted answers of deterministic requests (temperature 0, or a fixed seed) under a hash of
/// everything that decides the answer: the policy and its version, the mode, the messages and
/// the generation and routing limits. A new policy version misses by construction. Only routes
/// that ran undegraded are stored, so an answer accepted while Scoring or Policy was down is
/// never replayed. Redis failures make the request route uncached.
/// </summary>
public sealed partial class ResponseCache(IConnectionMultiplexer redis, DependencyBreakers breakers, IOptionsMonitor<ResponseCacheOptions> options, IOptionsMonitor<RoutingOptions> routing, ILogger<ResponseCache> logger)
{
    public static CacheUse Parse(string? cacheControl)
    {
        if (string.IsNullOrEmpty(cacheControl))
        {
            return CacheUse.Use;
        }

        var directives = cacheControl.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (directives.Contains("no-store", StringComparer.OrdinalIgnoreCase))
        {
            return CacheUse.Bypass;
        }

        return directives.Contains("no-cache", StringComparer.OrdinalIgnoreCase) ? CacheUse.Refresh : CacheUse.Use;
    }

    /// <summary>The request's cache key, or null when it must not be cached (sampled, or the cache is off or bypassed).</summary>
    public string? KeyFor(ValidatedChatRequest request, RoutingTrace plan, CacheUse use)
    {
        if (!options.CurrentValue.Enabled || use == CacheUse.Bypass || (request.Temperature > 0 && request.Seed is null))
        {
            return null;
        }

        var identity = JsonSerializer.SerializeToUtf8Bytes(new CacheIdentity(
            plan.Policy,
            plan.PolicyVersion,
            plan.Mode.Wire(),
            plan.Chain,
            request.Messages,
            request.MaxTokens,
            request.Temperature,
            request.Stop,
            request.Seed,
            request.MaxCostUsd,
            request.MaxLatencyMs,
            request.MinConfidence,
            request.TaskFamily,
            request.Options));
        return "response:" + Convert.ToHexStringLower(SHA256.HashData(identity));
    }

    /// <summary>The cached answer, or null on a miss, a malformed entry, or Redis not answering within Routing:CacheTimeout.</summary>
    public async Task<CachedAnswer?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var (value, failure) = await breakers.CallAsync<RedisValue>(
            DependencyBreakers.Cache,
            routing.CurrentValue.CacheTimeout,
            async _ => await redis.GetDatabase().StringGetAsync(key),
            RedisValue.Null,
            cancellationToken);
        if (failure is not null)
        {
            return null;
        }

        try
        {
            return value.HasValue ? CachedAnswer.Parser.ParseFrom((byte[])value!) : null;
        }
        catch (InvalidProtocolBufferException e)
        {
            LogUnavailable(logger, e.Message);
            return null;
        }
    }

    /// <summary>Stores without waiting for Redis: the answer is already the caller's, and a lost write only costs a later miss.</summary>
    public void Store(string key, CachedAnswer answer)
    {
        if (breakers.Refusal(DependencyBreakers.Cache) is not null)
        {
            return;
        }

        try
        {
            redis.GetDatabase().StringSet(key, answer.ToByteArray(), options.CurrentValue.Ttl, flags: CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogUnavailable(logger, e.Message);
        }
    }

    private sealed record CacheIdentity(
        string Policy,
        string PolicyVersion,
        string Mode,
        IReadOnlyList<string> Chain,
        IReadOnlyList<ChatTurn> Messages,
        int MaxTokens,
        double Temperature,
        IReadOnlyList<string> Stop,
        int? Seed,
        decimal? MaxCostUsd,
        double? MaxLatencyMs,
        double? MinConfidence,
        string? TaskFamily,
        IReadOnlyList<string> Options);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Response cache unavailable ({Error}); routing uncached")]
    private static partial void LogUnavailable(ILogger logger, string error);
}
