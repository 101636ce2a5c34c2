using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>Readiness follows the real dependencies: servers of this class's own, stopped and started under it.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Killing_postgres_degrades_health_with_the_reason_and_a_restart_makes_it_healthy_again()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await using var gateway = new GatewayFactory(redis.ConnectionString, postgres.ConnectionString("postgres"));
        gateway.StartServer();
        using var client = gateway.CreateClient();
        await WaitForAsync(client, "Healthy");

        postgres.Process!.Kill();
        await postgres.Process.Exited.WaitAsync(TimeSpan.FromSeconds(10));

        // Requests are journaled while PostgreSQL is down, so the Gateway stays ready, degraded.
        var (status, body) = await WaitForAsync(client, "Degraded");
        Assert.Equal(HttpStatusCode.OK, status);
        var ledger = body.RootElement.GetProperty("checks").GetProperty("ledger");
        Assert.Equal("Degraded", ledger.GetProperty("status").GetString());
        Assert.False(string.IsNullOrWhiteSpace(ledger.GetProperty("error").GetString()));
        var alive = await client.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

        await postgres.StartAsync();
        (status, _) = await WaitForAsync(client, "Healthy");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Stopping_redis_only_degrades_health()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await using var gateway = new GatewayFactory(redis.ConnectionString, postgres.ConnectionString("postgres"));
        gateway.StartServer();
        using var client = gateway.CreateClient();
        await WaitForAsync(client, "Healthy");

        await redis.StopAsync();

        var (status, body) = await WaitForAsync(client, "Degraded");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Degraded", body.RootElement.GetProperty("checks").GetProperty("cache").GetProperty("status").GetString());

        await redis.StartAsync();
        await WaitForAsync(client, "Healthy");
    }

    private static async Task<(HttpStatusCode Status, JsonDocument Body)> WaitForAsync(HttpClient client, string expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync("/health");
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (body.RootElement.GetProperty("status").GetString() == expected)
            {
                return (response.StatusCode, body);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"/health did not become {expected}: {body.RootElement}");
            await Task.Delay(250);
        }
    }
}
