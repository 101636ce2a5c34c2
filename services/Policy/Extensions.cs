using Microsoft.Extensions.Options;
using Router.Ledger;

namespace Router.PolicyService;

internal static class Extensions
{
    public static void AddPolicyService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc();
        builder.AddLedgerDbContext();
        builder.Services.AddOptions<PolicyOptions>()
            .Bind(builder.Configuration.GetSection(PolicyOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PolicyOptions>, PolicyOptionsValidator>();
        builder.Services.AddSingleton<PolicyRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PolicyRegistry>());
    }
}
