using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Gateway.Access;
using Router.Gateway.Control;
using Router.Gateway.Portfolio;
using Router.Gateway.Routing;
using Router.Ledger;
using Router.Ledger.Calibration;
using Router.Ledger.Recording;

namespace Router.Gateway;

internal static class Extensions
{
    public const string CacheConnectionName = "cache";
    public const string LedgerConnectionName = "ledger";
    public const string LedgerJournalCheckName = "ledger-journal";

    public static void AddGatewayServices(this IHostApplicationBuilder builder)
    {
        // The public API is OpenAI-compatible, and OpenAI's JSON is snake_case.
        // Signals of degenerate answers can be -inf or NaN; the trace reports them rather than failing.
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        });

        builder.Services.AddOptions<RoutingOptions>()
            .Bind(builder.Configuration.GetSection(RoutingOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RoutingOptions>, RoutingOptionsValidator>();
        DownstreamClients.Register(builder.Services, PortfolioOptions.From(builder.Configuration).Models);
        builder.Services.AddSingleton<WorkerFleet>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WorkerFleet>());
        builder.Services.AddSingleton<DependencyBreakers>();
        builder.Services.AddSingleton<PolicyCatalog>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PolicyCatalog>());
        builder.Services.AddSingleton<CalibratorCatalog>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CalibratorCatalog>());
        builder.Services.AddSingleton<RoutingTelemetry>();
        builder.Services.AddSingleton<RoutePlanner>();
        builder.Services.AddSingleton<StartPredictor>();
        builder.Services.AddSingleton<WorkerStage>();
        builder.Services.AddSingleton<RecipeCalls>();
        builder.Services.AddSingleton<AttemptScorer>();
        builder.Services.AddSingleton<WorkerCircuits>();
        builder.Services.AddSingleton<ResponseCache>();
        builder.Services.AddOptions<ResponseCacheOptions>()
            .Bind(builder.Configuration.GetSection(ResponseCacheOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ResponseCacheOptions>, ResponseCacheOptionsValidator>();
        builder.Services.AddSingleton<CascadeRouter>();
        builder.Services.AddSingleton<IRouteRunner, ResponseCachingRouter>();
        builder.Services.AddSingleton<LedgerRecorder>();

        builder.Services.AddOptions<AccessOptions>()
            .Bind(builder.Configuration.GetSection(AccessOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AccessOptions>, AccessOptionsValidator>();
        builder.Services.AddSingleton<TeamAccess>();
        builder.Services.AddSingleton<RateLimiter>();

        builder.Services.AddOptions<PortfolioOptions>()
            .Bind(builder.Configuration.GetSection(PortfolioOptions.SectionName))
            .PostConfigure(portfolio => portfolio.ApplyJson())
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PortfolioOptions>, PortfolioOptionsValidator>();

        builder.Configuration.RequiredConnectionString(CacheConnectionName);
        var ledger = builder.Configuration.RequiredConnectionString(LedgerConnectionName);

        // abortConnect=false: the Gateway starts and serves while Redis is down, and reconnects by itself.
        builder.AddRedisClient(CacheConnectionName, configureOptions: options =>
        {
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2000;
        });
        builder.AddLedgerDbContext();
        builder.Services.AddCalibrationDrift(builder.Configuration);

        var journal = builder.Configuration.GetSection(LedgerJournalSettings.SectionName).Get<LedgerJournalSettings>() ?? new LedgerJournalSettings();
        builder.Services.AddLedgerRecording(ledger, journal.Directory, journal.MaxBufferedMegabytes * 1024L * 1024L, journal.Instance);

        // Without the cache the router still answers (uncached), so it only degrades readiness.
        // Without PostgreSQL requests are journaled and still served (degraded); the Gateway is
        // unhealthy only once the journal is full and it refuses work. A dead worker degrades it
        // (the router fails over); a worker serving the wrong model makes it unhealthy.
        // Every check answers within a second, so /health does too while a dependency is frozen.
        builder.Services.ConfigureHealthCheck("StackExchange.Redis", CacheConnectionName, HealthStatus.Degraded, TimeSpan.FromMilliseconds(800));
        builder.Services.AddHealthChecks()
            .AddCheck<LedgerShipper>(LedgerJournalCheckName)
            .Add(new HealthCheckRegistration(WorkerFleet.HealthCheckName, sp => sp.GetRequiredService<WorkerFleet>(), HealthStatus.Unhealthy, tags: null))
            .Add(new HealthCheckRegistration(DependencyBreakers.HealthCheckName, sp => sp.GetRequiredService<DependencyBreakers>(), HealthStatus.Degraded, tags: null))
            .Add(new HealthCheckRegistration(CalibratorCatalog.HealthCheckName, sp => sp.GetRequiredService<CalibratorCatalog>(), HealthStatus.Degraded, tags: null));
    }

}

/// <summary>Where the Gateway journals ledger rows while they wait for PostgreSQL ("Ledger" section).</summary>
public sealed class LedgerJournalSettings
{
    public const string SectionName = "Ledger";

    /// <summary>
    /// The folder of the journals: each Gateway instance journals in a sub-folder of it, and adopts
    /// the sub-folders of instances that are gone. On a container, a volume that outlives restarts.
    /// </summary>
    public string Directory { get; set; } = Path.Combine(Path.GetTempPath(), "router-gateway", "ledger-journal");

    /// <summary>This instance's sub-folder; unset, the CONTAINER_APP_REPLICA_NAME variable, else the host name.</summary>
    public string? Instance { get; set; }

    public int MaxBufferedMegabytes { get; set; } = 512;
}
