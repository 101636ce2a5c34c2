using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Router.Ledger.Recording;
using Router.Ledger.Requests;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.Ledger.Tests;

/// <summary>Requests, journal folders and the recording services the ledger tests share.</summary>
internal static class LedgerTestKit
{
    /// <summary>A journal root of one test: no other test's journals are siblings of its instances.</summary>
    public static string NewRoot() => Path.Combine(TestState.Directory, "journals", Guid.NewGuid().ToString("N"));

    public static LedgerJournalOptions Options(string root, string instance = "live", TimeSpan? adoptionInterval = null) => new()
    {
        Root = root,
        Instance = instance,
        MaxBufferedBytes = 64L * 1024 * 1024,
        AdoptionInterval = adoptionInterval ?? TimeSpan.FromMinutes(1),
    };

    /// <summary>The Gateway's recording services over a real PostgreSQL; <paramref name="configure"/> replaces the clock, flush or logging.</summary>
    public static ServiceProvider Services(string connection, string root, string instance = "live", Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        services.AddMetrics();
        configure?.Invoke(services);
        services.AddLedgerRecording(connection, Options(root, instance));
        return services.BuildServiceProvider();
    }

    /// <summary>Starts the shipper and waits until it has migrated the schema (so tests may query it).</summary>
    public static async Task<LedgerShipper> StartShipperAsync(IServiceProvider services)
    {
        var shipper = services.GetRequiredService<LedgerShipper>();
        await shipper.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => shipper.Database is not null, "the shipper has migrated the schema");
        return shipper;
    }

    /// <summary>After a PostgreSQL restart: the test's own queries must not reuse connections the restart closed.</summary>
    public static async Task RestartedAsync(LocalPostgresServer postgres)
    {
        await postgres.StartAsync();
        NpgsqlConnection.ClearAllPools();
    }

    public static RoutedRequest Request(string id, int attempts = 1, string policy = "default") => new()
    {
        Id = id,
        ReceivedAt = DateTimeOffset.UtcNow,
        Policy = policy,
        PolicyVersion = "1",
        Mode = "cascade",
        FinalModel = "llama3.1-70b",
        Confidence = 0.8,
        LatencyMs = 12.5,
        CostUsd = 0.0123m,
        CounterfactualCostUsd = 0.05m,
        Stages = attempts,
        Simulated = true,
        Attempts = [.. Enumerable.Range(0, attempts).Select(a => new RoutingAttempt
        {
            RequestId = id,
            Attempt = a,
            Stage = a,
            Model = a == 0 ? "llama3.1-8b" : "llama3.1-70b",
            PromptTokens = 20,
            CompletionTokens = 5,
            CostUsd = 0.004m,
            LatencyMs = 4,
            Signals = """{"mean_logprob": -0.2}""",
            Confidence = 0.7,
            Calibrated = true,
            CalibratorVersion = "llama3.1-8b@1",
            Decision = a == attempts - 1 ? "accept" : "escalate",
            Reason = a == attempts - 1 ? "last_stage" : "confidence_below_threshold",
            Threshold = 0.75,
            Discarded = a != attempts - 1,
        })],
    };

    /// <summary>Writes rows as a journal of <paramref name="instance"/> that ends without shipping them (a process that is gone).</summary>
    public static async Task<string> LeaveJournalAsync(string root, string instance, IEnumerable<RoutedRequest> requests, JournalBinding? binding = null)
    {
        await using var journal = new LedgerJournal(Options(root, instance));
        if (binding is not null)
        {
            journal.Bind(binding);
        }

        foreach (var request in requests)
        {
            Assert.True(await journal.AppendAsync(request));
        }

        return journal.Directory;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"Timed out waiting until {what}.");
            await Task.Delay(20);
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"Timed out waiting until {what}.");
            await Task.Delay(20);
        }
    }
}
