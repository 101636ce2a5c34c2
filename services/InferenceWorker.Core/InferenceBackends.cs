using Microsoft.Extensions.Logging;
using Router.Contracts.Backends;
using Router.InferenceWorker.Backends;
using Router.InferenceWorker.Simulation;

namespace Router.InferenceWorker;

/// <summary>Builds the backend a worker's settings name, for the worker process and for a worker the Gateway runs itself.</summary>
public static class InferenceBackends
{
    public static IInferenceBackend Create(WorkerOptions options, ILoggerFactory loggers, TimeProvider time) => options.Backend switch
    {
        // Not the factory's resilient client: long generations outlive its attempt timeout, and
        // this backend retries only where it is safe (before any output).
        "vllm" => new VllmBackend(
            new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2), ConnectTimeout = TimeSpan.FromSeconds(5) })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            },
            options,
            loggers.CreateLogger<VllmBackend>()),
        "simulated" => new SimulatedBackend(new SimulatedModel(SimulatedModelProfile.For(options.Model), QuestionSet.Default), options.SimulateLatency, time),
        "openai" or "azure-openai" => new OpenAiBackend(options),
        "replay" => new ReplayBackend(options),
        _ => throw new ArgumentException($"'{options.Backend}' is not a backend; use one of {string.Join(", ", WorkerOptions.Backends)}.", nameof(options)),
    };
}
