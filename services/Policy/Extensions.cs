using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Ledger;

namespace Router.PolicyService;

internal static class Extensions
{
    public static void AddPolicyService(this IHostApplicationBuilder builder)
    {
        var ledger = builder.Configuration.RequiredConnectionString("ledger");

        builder.Services.AddGrpc();
        builder.Services.AddLedger(ledger);
        builder.Services.AddOptions<PolicyOptions>()
            .Bind(builder.Configuration.GetSection(PolicyOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PolicyOptions>, PolicyOptionsValidator>();
        builder.Services.AddSingleton<PolicyRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PolicyRegistry>());

        // Stored policies keep serving from memory while PostgreSQL is down: degraded, not down.
        builder.Services.AddHealthChecks()
            .AddNpgSql(ledger, name: "ledger", failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3));
    }
}
