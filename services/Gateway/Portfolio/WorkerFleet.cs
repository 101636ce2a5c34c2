using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Gateway.Routing;

namespace Router.Gateway.Portfolio;

/// <summary>
/// Asks every model's worker which model it serves: at start-up, where a worker that answers with
/// another model stops the Gateway (it would price and label every answer wrongly), and then every
/// <see cref="RoutingOptions.WorkerCheckInterval"/>, so that /health names a worker that is
/// unreachable (Degraded: the router fails over past it) or serves the wrong model (Unhealthy).
/// </summary>
public sealed partial class WorkerFleet(
    DownstreamClients clients,
    IOptions<PortfolioOptions> portfolio,
    IOptionsMonitor<RoutingOptions> routing,
    TimeProvider time,
    ILogger<WorkerFleet> logger) : BackgroundService, IHealthCheck
{
    public const string HealthCheckName = "workers";
    private static readonly TimeSpan InfoDeadline = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<string, WorkerStatus> _status = new(StringComparer.Ordinal);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await CheckAllAsync(cancellationToken);
        var wrong = _status.Values.Where(s => s.ServesOtherModel).Select(s => s.Problem).ToList();
        if (wrong.Count > 0)
        {
            throw new InvalidOperationException($"Workers serve other models than the portfolio says: {string.Join(" ", wrong)}");
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(routing.CurrentValue.WorkerCheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await CheckAllAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = _status.Values.Where(s => s.Problem is not null).ToList();
        if (problems.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"{_status.Count} worker(s) serve their portfolio models."));
        }

        var description = string.Join(" ", problems.Select(s => s.Problem));
        return Task.FromResult(problems.Any(s => s.ServesOtherModel)
            ? HealthCheckResult.Unhealthy(description)
            : HealthCheckResult.Degraded(description));
    }

    private Task CheckAllAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(portfolio.Value.Models.Select(model => CheckAsync(model, cancellationToken)));

    private async Task CheckAsync(ModelDeploymentOptions model, CancellationToken cancellationToken)
    {
        var worker = model.WorkerService;
        WorkerStatus status;
        try
        {
            var info = await clients.Worker(worker).InfoAsync(new InfoRequest(), deadline: DateTime.UtcNow + InfoDeadline, cancellationToken: cancellationToken);
            status = info.Model == model.Name
                ? new WorkerStatus(null, false)
                : new WorkerStatus($"{worker} serves '{info.Model}', not the portfolio's '{model.Name}'.", true);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            status = new WorkerStatus($"{worker} (model '{model.Name}') does not answer: {e.StatusCode} {e.Status.Detail}", false);
        }

        var previous = _status.GetValueOrDefault(worker);
        _status[worker] = status;
        if (status.Problem is not null && status.Problem != previous?.Problem)
        {
            LogWorkerProblem(logger, status.Problem);
        }
    }

    private sealed record WorkerStatus(string? Problem, bool ServesOtherModel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Problem}")]
    private static partial void LogWorkerProblem(ILogger logger, string problem);
}
