using System.Diagnostics;
using System.Net;
using System.Text;
using Npgsql;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>PostgreSQL stopped under a serving Gateway: every request sent meanwhile reaches the ledger once it is back.</summary>
public sealed class LedgerOutageTests
{
    [Fact]
    public async Task A_thousand_requests_sent_while_postgres_is_down_all_land_once_none_twice()
    {
        await using var postgres = await LocalPostgresServer.StartAsync(TestState.Directory, _ => { }, durable: false);
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");
        await using var gateway = new GatewayFactory(redis.ConnectionString, ledger, new Dictionary<string, string?>
        {
            // No worker answers: each request is routed, fails over every stage and is recorded as failed.
            ["services:policy:grpc:0"] = "http://127.0.0.1:9",
            ["services:scoring:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-8b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-70b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-gpt-4o:grpc:0"] = "http://127.0.0.1:9",
        });
        gateway.StartServer();
        using var client = gateway.CreateClient();
        await WaitForRowsAsync(ledger, 0);

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

        var (rows, distinct) = await WaitForRowsAsync(ledger, 1000);
        Assert.Equal((1000L, 1000L), (rows, distinct));
    }

    private static async Task<(long Rows, long Distinct)> WaitForRowsAsync(string ledger, long expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ledger);
                await connection.OpenAsync();
                await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT id) FROM requests", connection);
                await using var reader = await count.ExecuteReaderAsync();
                await reader.ReadAsync();
                var result = (reader.GetInt64(0), reader.GetInt64(1));
                if (result.Item1 >= expected)
                {
                    return result;
                }
            }
            catch (NpgsqlException)
            {
                // Not migrated yet, or a pooled connection from before the restart: ask again.
                NpgsqlConnection.ClearAllPools();
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the ledger did not reach {expected} rows");
            await Task.Delay(200);
        }
    }
}
