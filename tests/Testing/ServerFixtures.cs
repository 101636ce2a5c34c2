using Router.LocalServers;
using Xunit;

namespace Router.Testing;

/// <summary>A private PostgreSQL for a test class or collection, started the same way the AppHost starts it.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private LocalPostgresServer? _server;

    public LocalPostgresServer Server => _server ?? throw new InvalidOperationException("PostgreSQL is not started.");

    /// <summary>A fresh database for one test, so tests do not see each other's rows.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];
        await Server.CreateDatabaseAsync(name);
        return Server.ConnectionString(name);
    }

    public async Task InitializeAsync() =>
        _server = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>A private Redis for a test class or collection.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private LocalRedisServer? _server;

    public LocalRedisServer Server => _server ?? throw new InvalidOperationException("Redis is not started.");

    public async Task InitializeAsync() => _server = await LocalRedisServer.StartAsync(_ => { });

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

public static class TestState
{
    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), "router-tests");
}
