using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Router.Gateway.Access;
using Router.Ledger;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>PostgreSQL stopped under a serving Gateway, in Open and in Keys mode: every request sent meanwhile is answered and reaches the ledger once it is back.</summary>
public sealed class LedgerOutageTests
{
    [Fact]
    public async Task A_thousand_requests_sent_while_postgres_is_down_all_land_once_none_twice()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");

        // No worker answers: each request is routed, fails over every stage and is recorded as failed.
        await using var gateway = new GatewayFactory(redis.ConnectionString, ledger, GatewaySettings.NothingListening());
        gateway.StartServer();
        using var client = gateway.CreateClient();
        await LedgerRows.WaitForAsync(ledger, 0);

        await postgres.StopAsync();
        var statuses = new List<HttpStatusCode>();
        var body = "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}";
        for (var batch = 0; batch < 10; batch++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"))));
            statuses.AddRange(responses.Select(r => r.StatusCode));
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.BadGateway, s));
        await postgres.StartAsync();

        var (rows, distinct) = await LedgerRows.WaitForAsync(ledger, 1000);
        Assert.Equal((1000L, 1000L), (rows, distinct));
    }

    [Fact]
    public async Task In_keys_mode_requests_are_answered_from_the_last_known_keys_and_spend_and_all_land_once()
    {
        const string adminKey = "admin-key-for-the-outage-test-0123456789";
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync();
        }

        await using var worker = new SimulatedWorker("llama3.1-8b");

        // CacheFor 0: every request finds its key and spend stale and asks for a refresh, which fails all through the outage.
        await using var gateway = new GatewayFactory(redis.ConnectionString, ledger, GatewaySettings.NothingListening(
            worker.Route,
            new("Access:Mode", "Keys"),
            new("Access:AdminKey", adminKey),
            new("Access:CacheFor", "00:00:00")));
        gateway.StartServer();
        using var client = gateway.CreateClient();

        // A budget makes every routed request check the team's spend as well as its key.
        var key = await TeamKeys.CreateAsync(client, adminKey, "outage-team", monthlyBudgetUsd: 100);
        var body = "{\"model\": \"llama3.1-8b\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}";
        using (var first = await TeamKeys.SendAsync(client, key, HttpMethod.Post, "/v1/chat/completions", body))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await LedgerRows.WaitForAsync(ledger, 1);
        await postgres.StopAsync();

        var statuses = new List<HttpStatusCode>();
        for (var batch = 0; batch < 10; batch++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => TeamKeys.SendAsync(client, key, HttpMethod.Post, "/v1/chat/completions", body)));
            statuses.AddRange(responses.Select(r => r.StatusCode));
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        // A key never seen cannot be checked without PostgreSQL: refused, not let in.
        using (var stranger = await TeamKeys.SendAsync(client, ApiKeys.NewKey(), HttpMethod.Post, "/v1/chat/completions", body))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stranger.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        await postgres.StartAsync();

        var (rows, distinct) = await LedgerRows.WaitForAsync(ledger, 501);
        Assert.Equal((501L, 501L), (rows, distinct));
    }
}
