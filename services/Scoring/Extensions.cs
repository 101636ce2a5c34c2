using Microsoft.Extensions.Diagnostics.HealthChecks;
using Router.Contracts;
using Router.Ledger;

namespace Router.Scoring;

internal static class Extensions
{
    public const string CacheConnectionName = "cache";

    public static void AddScoring(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc(options => options.ApplyMessageLimits());
        builder.AddLedgerDbContext();
        builder.AddRedisClient(CacheConnectionName, configureOptions: options =>
        {
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = 2000;
        });

        // The model's worker answers P(True) and P(IK) questions: one client per worker the
        // configuration names (services:worker-<model>:grpc).
        foreach (var service in builder.Configuration.GetSection("services").GetChildren().Select(s => s.Key).Where(ServiceNames.IsWorker))
        {
            builder.Services.AddServiceGrpcClient<Inference.InferenceClient>(service).ConfigureChannel(c => c.ApplyMessageLimits());
        }

        builder.Services.AddSingleton<ScoreCache>();
        builder.Services.AddSingleton<CalibratorRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CalibratorRegistry>());
        builder.AddCalibrationDriftMonitor();

        // Without Redis scores are computed uncached; without PostgreSQL the last loaded
        // calibrators keep serving: both degrade the service, neither stops it.
        builder.Services.ConfigureHealthCheck("StackExchange.Redis", CacheConnectionName, HealthStatus.Degraded, TimeSpan.FromSeconds(2));
    }
}
