using Router.Domain.Calibration;
using Router.Ledger;

namespace Router.Scoring;

/// <summary>A calibrator loaded from the ledger, with the version every score it produces names.</summary>
public sealed record LoadedCalibrator(string Name, int Version, CalibratorArtifact Artifact);

/// <summary>
/// The latest version of every stored calibrator, reloaded from PostgreSQL on an interval. While
/// PostgreSQL is unreachable the last loaded set keeps serving.
/// </summary>
public sealed partial class CalibratorRegistry(ArtifactStore artifacts, ILogger<CalibratorRegistry> logger) : BackgroundService
{
    private volatile IReadOnlyDictionary<string, LoadedCalibrator> _calibrators = new Dictionary<string, LoadedCalibrator>();
    private readonly TaskCompletionSource _firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The calibrator for the model and task family, falling back to the model's general one.</summary>
    public LoadedCalibrator? Find(string model, string? taskFamily)
    {
        var calibrators = _calibrators;
        return (!string.IsNullOrEmpty(taskFamily) && calibrators.TryGetValue(CalibratorArtifact.Name(model, taskFamily), out var specific))
            ? specific
            : calibrators.GetValueOrDefault(model);
    }

    public IEnumerable<LoadedCalibrator> All => _calibrators.Values;

    /// <summary>Every loaded calibrator by name, with its version: what calibration drift is measured against.</summary>
    public IReadOnlyDictionary<string, VersionedCalibrator> Versions() =>
        All.ToDictionary(c => c.Name, c => new VersionedCalibrator(c.Version, c.Artifact), StringComparer.Ordinal);

    /// <summary>Completes once calibrators were loaded for the first time.</summary>
    public Task FirstLoad => _firstLoad.Task;

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var latest = await artifacts.GetLatestOfKindAsync(ArtifactKinds.Calibrator, cancellationToken);
        var loaded = new Dictionary<string, LoadedCalibrator>(StringComparer.Ordinal);
        foreach (var artifact in latest)
        {
            try
            {
                loaded[artifact.Name] = new LoadedCalibrator(artifact.Name, artifact.Version, CalibratorArtifact.FromJson(artifact.Payload));
            }
            catch (System.Text.Json.JsonException e)
            {
                LogUnreadable(logger, artifact.Name, artifact.Version, e.Message);
            }
        }

        _calibrators = loaded;
        _firstLoad.TrySetResult();
    }

    /// <summary>Completes once calibrators were loaded at least once (or the timeout passed).</summary>
    public Task WaitForFirstLoadAsync(TimeSpan timeout) => Task.WhenAny(_firstLoad.Task, Task.Delay(timeout));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReloadAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogReloadFailed(logger, e.Message);
            }

            await Task.Delay(RefreshInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibrators could not be reloaded ({Error}); serving the last loaded set")]
    private static partial void LogReloadFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Calibrator {Name} v{Version} is unreadable and is skipped: {Error}")]
    private static partial void LogUnreadable(ILogger logger, string name, int version, string error);
}
