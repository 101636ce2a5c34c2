using Microsoft.Extensions.Diagnostics.HealthChecks;
using Router.Contracts;
using Router.Ledger;
using StackExchange.Redis;

namespace Router.Scoring;

internal static class Extensions
{
    public static void AddScoring(this IHostApplicationBuilder builder)
    {
        var cache = builder.Configuration.RequiredConnectionString("cache");
        var ledger = builder.Configuration.RequiredConnectionString("ledger");

        builder.Services.AddGrpc(options => options.ApplyMessageLimits());
        builder.Services.AddLedger(ledger);
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(cache + ",abortConnect=false,connectTimeout=2000"));
        builder.Services.AddSingleton<ScoreCache>();
        builder.Services.AddSingleton<CalibratorRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CalibratorRegistry>());

        // Without Redis scores are computed uncached; without PostgreSQL the last loaded
        // calibrators keep serving: both degrade the service, neither stops it.
        builder.Services.AddHealthChecks()
            .AddRedis(cache, name: "cache", failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3))
            .AddNpgSql(ledger, name: "ledger", failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3));
    }

}
