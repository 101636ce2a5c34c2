using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.InferenceWorker;

namespace Router.Gateway.Portfolio;

/// <summary>
/// The workers the Gateway runs itself, one per portfolio model with <see cref="ModelDeploymentOptions.InProcess"/>
/// settings, each behind the generated Inference client like a remote worker, so routing,
/// circuits, recipes and the fleet check call them the same way.
/// </summary>
public sealed class InProcessWorkers(IOptions<PortfolioOptions> portfolio, ILoggerFactory loggers, TimeProvider time)
{
    private readonly Lazy<Dictionary<string, Inference.InferenceClient>> _clients = new(() => portfolio.Value.Models
        .Select(model => (model.WorkerService, Settings: model.InProcessWorker()))
        .Where(model => model.Settings is not null)
        .ToDictionary(
            model => model.WorkerService,
            model => new Inference.InferenceClient(new InProcessInference(
                new InferenceService(InferenceBackends.Create(model.Settings!, loggers, time)),
                loggers.CreateLogger<InProcessInference>())),
            StringComparer.Ordinal));

    /// <summary>The client of the in-process worker registered under <paramref name="service"/>; null when that worker is another process.</summary>
    public Inference.InferenceClient? Client(string service) => _clients.Value.GetValueOrDefault(service);
}
