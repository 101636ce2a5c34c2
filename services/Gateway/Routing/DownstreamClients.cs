using Microsoft.Extensions.DependencyInjection.Extensions;
using Router.Contracts;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>
/// The gRPC clients of the services the Gateway calls, from the gRPC client factory (one HTTP/2
/// connection pool each), and the clients of the workers it runs in its own process.
/// </summary>
public sealed class DownstreamClients(
    GrpcClientsByName<Inference.InferenceClient> workers,
    InProcessWorkers inProcess,
    GrpcClientsByName<Router.Contracts.Scoring.ScoringClient> scoring,
    GrpcClientsByName<Router.Contracts.Policy.PolicyClient> policy,
    GrpcClientsByName<Router.Contracts.Classifier.ClassifierClient> classifier)
{
    public Inference.InferenceClient Worker(string service) => inProcess.Client(service) ?? workers.For(service);

    public Router.Contracts.Scoring.ScoringClient Scoring => scoring.For(ServiceNames.Scoring);

    public Router.Contracts.Policy.PolicyClient Policy => policy.For(ServiceNames.Policy);

    public Router.Contracts.Classifier.ClassifierClient Classifier => classifier.For(ServiceNames.Classifier);

    /// <summary>
    /// Registers a client per downstream service: Scoring, Policy, Classifier and the worker of every
    /// model of the portfolio that runs in a process of its own, each carrying messages as large as
    /// the Gateway accepts requests.
    /// </summary>
    public static void Register(IServiceCollection services, IEnumerable<ModelDeploymentOptions> models)
    {
        services.AddServiceGrpcClient<Router.Contracts.Scoring.ScoringClient>(ServiceNames.Scoring).ConfigureChannel(c => c.ApplyMessageLimits());
        services.AddServiceGrpcClient<Router.Contracts.Policy.PolicyClient>(ServiceNames.Policy).ConfigureChannel(c => c.ApplyMessageLimits());
        services.AddServiceGrpcClient<Router.Contracts.Classifier.ClassifierClient>(ServiceNames.Classifier).ConfigureChannel(c => c.ApplyMessageLimits());
        foreach (var worker in models.Where(m => m.InProcess is null).Select(m => m.WorkerService).Distinct(StringComparer.Ordinal))
        {
            services.AddServiceGrpcClient<Inference.InferenceClient>(worker).ConfigureChannel(c => c.ApplyMessageLimits());
        }

        // Registered by the first worker client above, unless every worker runs in the Gateway.
        services.TryAddSingleton<GrpcClientsByName<Inference.InferenceClient>>();
        services.AddSingleton<InProcessWorkers>();
        services.AddSingleton<DownstreamClients>();
    }
}
