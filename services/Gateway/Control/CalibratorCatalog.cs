using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Gateway.Routing;

namespace Router.Gateway.Control;

/// <summary>A calibrator in force and the version the scores it produces name.</summary>
public sealed record PinnedCalibrator(string Name, int Version, CalibratorArtifact Artifact)
{
    public string Label => $"{Name}@{Version}";
}

/// <summary>
/// The calibrators the Scoring service has in force (it owns fitting, storing and versions), read
/// every Routing:ControlRefreshInterval in the background, so the Gateway calibrates each answer
/// itself: the answer's tokens cross the network once (worker to Gateway) instead of going on to
/// Scoring. Until the first read succeeds answers are scored uncalibrated and say so; afterwards an
/// unreachable Scoring leaves the last set in force.
/// </summary>
public sealed partial class CalibratorCatalog(
    DownstreamClients clients,
    DependencyBreakers breakers,
    IOptionsMonitor<RoutingOptions> routing,
    TimeProvider time,
    ILogger<CalibratorCatalog> logger) : BackgroundService, IHealthCheck
{
    public const string HealthCheckName = "calibrators";

    private volatile IReadOnlyDictionary<string, PinnedCalibrator>? _calibrators;
    private DateTimeOffset? _loadedAt;

    /// <summary>False until the calibrators were read once: scores are then raw, and marked so.</summary>
    public bool Loaded => _calibrators is not null;

    /// <summary>The model's calibrator for the task family, falling back to its general one, whatever signal it reads.</summary>
    public PinnedCalibrator? Find(string model, string? taskFamily) => Find(model, taskFamily, SignalNames.GeometricMeanProbability);

    /// <summary>
    /// The calibrator of (model, <paramref name="signal"/>) for the task family, falling back to the
    /// model's general one of that signal: a recipe's score is read through the calibrator fitted on
    /// it (<see cref="CalibratorArtifact.Name(string, string?, string)"/>).
    /// </summary>
    public PinnedCalibrator? Find(string model, string? taskFamily, string signal)
    {
        var calibrators = _calibrators;
        if (calibrators is null)
        {
            return null;
        }

        return !string.IsNullOrEmpty(taskFamily) && calibrators.TryGetValue(CalibratorArtifact.Name(model, taskFamily, signal), out var specific)
            ? specific
            : calibrators.GetValueOrDefault(CalibratorArtifact.Name(model, null, signal));
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var (set, failure) = await breakers.CallAsync<CalibratorSet?>(
            DependencyBreakers.Scoring,
            routing.CurrentValue.ControlTimeout,
            async token => await clients.Scoring.CalibratorsAsync(new CalibratorsRequest(), cancellationToken: token),
            null,
            cancellationToken);
        if (set is null)
        {
            LogRefreshFailed(logger, failure ?? "no answer");
            return;
        }

        var loaded = new Dictionary<string, PinnedCalibrator>(StringComparer.Ordinal);
        foreach (var stored in set.Calibrators)
        {
            try
            {
                loaded[stored.Name] = new PinnedCalibrator(stored.Name, stored.Version, CalibratorArtifact.FromJson(stored.PayloadJson));
            }
            catch (System.Text.Json.JsonException e)
            {
                LogUnreadable(logger, stored.Name, stored.Version, e.Message);
            }
        }

        _calibrators = loaded;
        _loadedAt = time.GetUtcNow();
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_calibrators is { } calibrators
            ? HealthCheckResult.Healthy($"{calibrators.Count} calibrator(s) in force, read from Scoring at {_loadedAt:O}")
            : HealthCheckResult.Degraded("calibrators not read from Scoring yet: answers are scored with the uncalibrated exp(mean log-prob)"));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await RefreshAsync(stoppingToken);
        using var timer = new PeriodicTimer(routing.CurrentValue.ControlRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await RefreshAsync(stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibrators could not be read from Scoring ({Failure}); scoring with the set in hand")]
    private static partial void LogRefreshFailed(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "Calibrator {Name} v{Version} is unreadable and is skipped: {Error}")]
    private static partial void LogUnreadable(ILogger logger, string name, int version, string error);
}
