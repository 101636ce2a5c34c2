using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Router.Ledger;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>
/// Sustained ledger rows per second through the durable journal and the batching shipper,
/// against one insert transaction per request, on a PostgreSQL with fsync on (durable).
/// </summary>
public sealed class LedgerBenchmark : IBenchmark
{
    public string Name => "ledger";

    public string Description => "ledger rows per second: journal + batched shipper versus one transaction per request";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var state = Path.Combine(Path.GetTempPath(), "router-benchmarks");
        await using var postgres = await LocalPostgresServer.StartAsync(state, _ => { }, durable: true);
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");

        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        services.AddMetrics();
        services.AddLedgerRecording(ledger, Path.Combine(state, "journal-" + Guid.NewGuid().ToString("N")), 1024L * 1024 * 1024);
        await using var provider = services.BuildServiceProvider();
        await provider.MigrateLedgerAsync(cancellationToken);

        const int Single = 2_000;
        await using var source = NpgsqlDataSource.Create(ledger);
        var writer = new LedgerWriter(source);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Single; i++)
        {
            await writer.WriteAsync([Request($"single-{i}")], cancellationToken);
        }

        var perRequest = Single / clock.Elapsed.TotalSeconds;

        const int Batched = 50_000;
        var shipper = provider.GetRequiredService<LedgerShipper>();
        var journal = provider.GetRequiredService<LedgerJournal>();
        await shipper.StartAsync(cancellationToken);
        clock.Restart();
        var appends = new List<Task<bool>>(Batched);
        for (var i = 0; i < Batched; i++)
        {
            appends.Add(journal.AppendAsync(Request($"batched-{i}")));
        }

        await Task.WhenAll(appends);
        var journaled = clock.Elapsed;
        while (journal.PendingRows > 0)
        {
            await Task.Delay(10, cancellationToken);
        }

        var batched = Batched / clock.Elapsed.TotalSeconds;
        await shipper.StopAsync(cancellationToken);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one transaction per request : {Single,7} requests  {perRequest,10:N0} rows/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"journal + batched shipper   : {Batched,7} requests  {batched,10:N0} rows/s (journaled durably in {journaled.TotalMilliseconds:N0} ms)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio                       : {batched / perRequest,10:F1}x (each request has 2 attempt rows as well)"));
    }

    private static RoutedRequest Request(string id) => new()
    {
        Id = id,
        ReceivedAt = DateTimeOffset.UtcNow,
        Policy = "default",
        PolicyVersion = "1",
        Mode = "cascade",
        FinalModel = "llama3.1-70b",
        Confidence = 0.91,
        LatencyMs = 42,
        CostUsd = 0.00012m,
        CounterfactualCostUsd = 0.0009m,
        Stages = 2,
        Attempts =
        [
            new RoutingAttempt { RequestId = id, Attempt = 0, Stage = 0, Model = "llama3.1-8b", PromptTokens = 40, CompletionTokens = 12, CostUsd = 0.00002m, Signals = """{"mean_logprob": -0.41}""", Confidence = 0.62, Decision = "escalate", Reason = "confidence_below_threshold", Threshold = 0.9, Discarded = true },
            new RoutingAttempt { RequestId = id, Attempt = 1, Stage = 1, Model = "llama3.1-70b", PromptTokens = 40, CompletionTokens = 12, CostUsd = 0.0001m, Signals = """{"mean_logprob": -0.05}""", Confidence = 0.91, Decision = "accept", Reason = "last_stage" },
        ],
    };
}
