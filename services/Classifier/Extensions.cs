using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Ledger;

namespace Router.ClassifierService;

internal static class Extensions
{
    public static void AddClassifierService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc(options => options.ApplyMessageLimits());
        builder.Services.AddOptions<ClassifierOptions>()
            .Bind(builder.Configuration.GetSection(ClassifierOptions.SectionName))
            .PostConfigure<IHostEnvironment>((options, environment) => options.ModelPath = ClassifierOptions.Resolve(options.ModelPath, environment.ContentRootPath))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ClassifierOptions>, ClassifierOptionsValidator>();

        // Stored classifiers are read from the ledger when there is one; a model file needs none.
        if (builder.Configuration.GetConnectionString(Router.Ledger.Extensions.ConnectionName) is { Length: > 0 })
        {
            builder.AddLedgerDbContext();
        }

        builder.Services.AddSingleton<OnnxExecutionProvider>();
        builder.Services.AddHealthChecks().Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration(
            OnnxExecutionProvider.HealthCheckName, sp => sp.GetRequiredService<OnnxExecutionProvider>(), failureStatus: null, tags: null));
        builder.Services.AddSingleton<ClassifierModel>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClassifierModel>());
    }
}
