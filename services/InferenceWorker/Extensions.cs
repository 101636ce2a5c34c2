using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Contracts.Backends;
using Router.InferenceWorker.Backends;
using Router.InferenceWorker.Simulation;

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

        builder.Services.AddKeyedSingleton<IInferenceBackend>("vllm", (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptions<WorkerOptions>>().Value;

            // Not the factory's resilient client: long generations outlive its attempt timeout,
            // and this backend retries only where it is safe (before any output).
            var http = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2), ConnectTimeout = TimeSpan.FromSeconds(5) })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
            return new VllmBackend(http, options, sp.GetRequiredService<ILogger<VllmBackend>>());
        });
        builder.Services.AddKeyedSingleton<IInferenceBackend>("simulated", (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptions<WorkerOptions>>().Value;
            var profile = SimulatedModelProfile.For(options.Model);
            return new SimulatedBackend(new SimulatedModel(profile, QuestionSet.Default), options.SimulateLatency, sp.GetRequiredService<TimeProvider>());
        });
        builder.Services.AddKeyedSingleton<IInferenceBackend>("openai", (sp, _) => new OpenAiBackend(sp.GetRequiredService<IOptions<WorkerOptions>>().Value));
        builder.Services.AddKeyedSingleton<IInferenceBackend>("azure-openai", (sp, _) => new OpenAiBackend(sp.GetRequiredService<IOptions<WorkerOptions>>().Value));
        builder.Services.AddKeyedSingleton<IInferenceBackend>("replay", (sp, _) => new ReplayBackend(sp.GetRequiredService<IOptions<WorkerOptions>>().Value));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => sp.GetRequiredKeyedService<IInferenceBackend>(sp.GetRequiredService<IOptions<WorkerOptions>>().Value.Backend));
    }
}
