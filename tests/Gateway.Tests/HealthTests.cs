using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// Readiness follows the real dependencies: servers of this class's own, stopped and started under
/// it. (No worker runs here, so the overall status stays Degraded by the workers' check; each test
/// follows the check of the dependency it stops.)
/// </summary>
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
        await WaitForAsync(client, "ledger", "Healthy");

        postgres.Process!.Kill();
        await postgres.Process.Exited.WaitAsync(TimeSpan.FromSeconds(10));

        // Requests are journaled while PostgreSQL is down, so the Gateway stays ready, degraded.
        var (status, body) = await WaitForAsync(client, "ledger", "Degraded");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Degraded", body.RootElement.GetProperty("status").GetString());
        var ledger = body.RootElement.GetProperty("checks").GetProperty("ledger");
        Assert.False(string.IsNullOrWhiteSpace(ledger.GetProperty("error").GetString()));
        var alive = await client.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

        await postgres.StartAsync();
        (status, _) = await WaitForAsync(client, "ledger", "Healthy");
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
        await WaitForAsync(client, "cache", "Healthy");

        await redis.StopAsync();

        var (status, body) = await WaitForAsync(client, "cache", "Degraded");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Degraded", body.RootElement.GetProperty("status").GetString());

        await redis.StartAsync();
        await WaitForAsync(client, "cache", "Healthy");
    }

    private static async Task<(HttpStatusCode Status, JsonDocument Body)> WaitForAsync(HttpClient client, string check, string expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync("/health");
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (body.RootElement.GetProperty("checks").GetProperty(check).GetProperty("status").GetString() == expected)
            {
                return (response.StatusCode, body);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"/health's {check} check did not become {expected}: {body.RootElement}");
            await Task.Delay(250);
        }
    }
}
