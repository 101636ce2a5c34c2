using Router.Domain.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Contracts;
using Router.Gateway.Routing;
using Router.Testing;
using StackExchange.Redis;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Which requests the response cache keys and how, and a round trip through a real Redis.</summary>
[Collection(ServerCollection.Name)]
public sealed class ResponseCacheTests(RedisFixture redis) : IAsyncLifetime
{
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync() => _connection = await ConnectionMultiplexer.ConnectAsync(redis.Server.ConnectionString);

    public async Task DisposeAsync() => await _connection.DisposeAsync();

    [Theory]
    [InlineData(null, CacheUse.Use)]
    [InlineData("max-age=60", CacheUse.Use)]
    [InlineData("no-cache", CacheUse.Refresh)]
    [InlineData("No-Cache, max-age=0", CacheUse.Refresh)]
    [InlineData("no-store", CacheUse.Bypass)]
    [InlineData("no-cache, no-store", CacheUse.Bypass)]
    public void Cache_control_says_how_the_cache_is_used(string? header, CacheUse expected) =>
        Assert.Equal(expected, ResponseCache.Parse(header));

    [Fact]
    public void Deterministic_requests_get_a_key_that_names_everything_deciding_the_answer()
    {
        var cache = Cache(enabled: true);
        var key = cache.KeyFor(Request("What is 2+2?"), Plan("3"), CacheUse.Use);

        Assert.NotNull(key);
        Assert.Equal(key, cache.KeyFor(Request("What is 2+2?"), Plan("3"), CacheUse.Refresh));
        Assert.NotEqual(key, cache.KeyFor(Request("What is 2+3?"), Plan("3"), CacheUse.Use));
        Assert.NotEqual(key, cache.KeyFor(Request("What is 2+2?"), Plan("4"), CacheUse.Use));
        Assert.NotEqual(key, cache.KeyFor(Request("What is 2+2?") with { MinConfidence = 0.99 }, Plan("3"), CacheUse.Use));
        Assert.Equal(key, cache.KeyFor(Request("What is 2+2?") with { Stream = true, ReturnLogprobs = true }, Plan("3"), CacheUse.Use));
    }

    [Fact]
    public void Sampled_bypassed_or_disabled_requests_are_not_cached()
    {
        Assert.Null(Cache(enabled: true).KeyFor(Request("hi") with { Temperature = 0.7 }, Plan("1"), CacheUse.Use));
        Assert.NotNull(Cache(enabled: true).KeyFor(Request("hi") with { Temperature = 0.7, Seed = 7 }, Plan("1"), CacheUse.Use));
        Assert.Null(Cache(enabled: true).KeyFor(Request("hi"), Plan("1"), CacheUse.Bypass));
        Assert.Null(Cache(enabled: false).KeyFor(Request("hi"), Plan("1"), CacheUse.Use));
    }

    [Fact]
    public async Task A_stored_answer_comes_back_whole()
    {
        var cache = Cache(enabled: true);
        var key = cache.KeyFor(Request("Capital of France? " + Guid.NewGuid()), Plan("1"), CacheUse.Use)!;
        Assert.Null(await cache.GetAsync(key, CancellationToken.None));

        var answer = new CachedAnswer
        {
            Response = new GenerateResponse { Model = "llama3.1-8b", Text = "Paris", FinishReason = "stop", Tokens = { new TokenLogprob { Token = "Paris", Logprob = -0.01 } } },
            Model = "llama3.1-8b",
            Confidence = 0.97,
            RequestId = "chatcmpl-1",
        };
        cache.Store(key, answer);

        CachedAnswer? stored = null;
        for (var i = 0; i < 50 && stored is null; i++)
        {
            stored = await cache.GetAsync(key, CancellationToken.None);
            await Task.Delay(stored is null ? 20 : 0);
        }

        Assert.Equal(answer, stored);
    }

    private ResponseCache Cache(bool enabled)
    {
        var routing = new FixedOptions<RoutingOptions>(new RoutingOptions());
        return new(
            _connection,
            new DependencyBreakers(routing, TimeProvider.System, NullLogger<DependencyBreakers>.Instance),
            new FixedOptions<ResponseCacheOptions>(new ResponseCacheOptions { Enabled = enabled }),
            routing,
            NullLogger<ResponseCache>.Instance);
    }

    private static ValidatedChatRequest Request(string question) => new(
        new RouteTarget("default", RoutingMode.Cascade, null),
        [new ChatTurn("user", question)],
        512,
        0,
        [],
        null,
        false,
        5,
        false,
        0,
        null,
        null,
        null,
        null,
        []);

    private static RoutingTrace Plan(string version) => new()
    {
        RequestId = "r",
        Policy = "default",
        PolicyVersion = version,
        Mode = RoutingMode.Cascade,
        Chain = ["llama3.1-8b", "gpt-4o"],
    };
}
