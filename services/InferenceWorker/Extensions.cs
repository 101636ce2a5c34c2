using Microsoft.Extensions.Options;
using Router.Contracts;

namespace Router.InferenceWorker;

internal static class Extensions
{
    public static void AddInferenceWorker(this IHostApplicationBuilder builder)
    {
        builder.Services.AddGrpc(options =>
        {
            options.EnableDetailedErrors = false;
            options.ApplyMessageLimits();
        });
        builder.Services.AddGrpcHealthChecks().AddCheck("backend", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());

        builder.Services.AddOptions<WorkerOptions>()
            .Bind(builder.Configuration.GetSection(WorkerOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => InferenceBackends.Create(
            sp.GetRequiredService<IOptions<WorkerOptions>>().Value,
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>()));
    }
}
