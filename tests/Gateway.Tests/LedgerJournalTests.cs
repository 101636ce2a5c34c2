using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.Ledger.Tests;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>The Gateway's journal wiring: an instance folder per process, adopted journals, set-aside rows on /health.</summary>
public sealed class LedgerJournalTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<PostgresFixture>, IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Rows_postgres_refuses_in_an_adopted_journal_are_named_on_health_as_degraded_and_the_others_land()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        var root = NewRoot();
        await using (var gone = new LedgerJournal(new LedgerJournalOptions { Root = root, Instance = "scaled-in-replica" }))
        {
            Assert.True(await gone.AppendAsync(Request("chatcmpl-good")));
            Assert.True(await gone.AppendAsync(Request("chatcmpl-nul", policy: "x\0y")));
        }

        // The replica died mid-write: its last line is torn.
        await File.AppendAllTextAsync(Path.Combine(root, "scaled-in-replica", "000000000001.jsonl"), "{\"id\":\"chatcmpl-to");

        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, ledger, new Dictionary<string, string?>
        {
            ["Ledger:Directory"] = root,
            ["Ledger:Instance"] = "gateway-a",
        });
        gateway.StartServer();
        using var client = gateway.CreateClient();

        var check = await WaitForJournalCheckAsync(client, "Degraded");
        var description = check.GetProperty("description").GetString()!;
        Assert.Contains("2 journal lines were set aside in the dead_letters table", description, StringComparison.Ordinal);
        Assert.Contains("request chatcmpl-nul refused (22021:", description, StringComparison.Ordinal);
        Assert.Contains("unreadable line at " + Path.Combine(root, "scaled-in-replica"), description, StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT string_agg(id, ',') FROM requests", connection);
        Assert.Equal("chatcmpl-good", await command.ExecuteScalarAsync());

        // Health names the set-aside lines as soon as their batch is done; the folder goes after the last batch.
        var adopted = Path.Combine(root, "scaled-in-replica");
        await Eventually.UntilAsync(() => !Directory.Exists(adopted), $"the adopted journal {adopted} was not removed once its lines were shipped");
    }

    [Fact]
    public async Task A_second_gateway_on_the_same_instance_folder_does_not_start_and_is_told_which_setting_to_change()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        var root = NewRoot();
        var same = new Dictionary<string, string?> { ["Ledger:Directory"] = root, ["Ledger:Instance"] = "same" };
        await using var first = new GatewayFactory(redis.Server.ConnectionString, ledger, same);
        first.StartServer();

        await using var second = new GatewayFactory(redis.Server.ConnectionString, ledger, same);
        var failure = second.StartUpFailure();
        Assert.Contains(typeof(JournalInUseException).FullName!, failure, StringComparison.Ordinal);
        Assert.Contains($"is in use by process {Environment.ProcessId}", failure, StringComparison.Ordinal);
        Assert.Contains("another Ledger:Instance (now 'same')", failure, StringComparison.Ordinal);
        Assert.Contains($"another Ledger:Directory (now '{root}')", failure, StringComparison.Ordinal);

        await using var other = new GatewayFactory(redis.Server.ConnectionString, ledger, new Dictionary<string, string?> { ["Ledger:Directory"] = root, ["Ledger:Instance"] = "other" });
        other.StartServer();
        Assert.True(Directory.Exists(Path.Combine(root, "other")));
    }

    [Fact]
    public async Task A_journal_that_cannot_fsync_fails_requests_with_503_ledger_unavailable_and_makes_health_unhealthy()
    {
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        var flush = new FailingFlush();
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, ledger, new Dictionary<string, string?>
        {
            // No worker answers: each request fails over every stage and is recorded as failed.
            ["services:policy:grpc:0"] = "http://127.0.0.1:9",
            ["services:scoring:grpc:0"] = "http://127.0.0.1:9",
            ["services:classifier:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-8b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-llama3-1-70b:grpc:0"] = "http://127.0.0.1:9",
            ["services:worker-gpt-4o:grpc:0"] = "http://127.0.0.1:9",
        },
        services: services => services.AddSingleton<IDurableFlush>(flush));
        gateway.StartServer();
        using var client = gateway.CreateClient();
        var body = "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}";
        using (var recorded = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, recorded.StatusCode);
        }

        flush.Failing = true;
        using var refused = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("ledger_unavailable", error.GetProperty("code").GetString());
        var check = await WaitForJournalCheckAsync(client, "Unhealthy");
        Assert.Contains("Input/output error", check.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    private static string NewRoot() => Path.Combine(TestState.Directory, "journals", Guid.NewGuid().ToString("N"));

    private static RoutedRequest Request(string id, string policy = "default") => new()
    {
        Id = id,
        ReceivedAt = DateTimeOffset.UtcNow,
        Policy = policy,
        PolicyVersion = "1",
        Mode = "cascade",
        Stages = 0,
        Simulated = true,
    };

    private static async Task<JsonElement> WaitForJournalCheckAsync(HttpClient client, string expected)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync("/health");
            var check = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty(Extensions.LedgerJournalCheckName);
            if (check.GetProperty("status").GetString() == expected)
            {
                return check;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"The ledger journal check did not become {expected}: {check}");
            await Task.Delay(100);
        }
    }
}
