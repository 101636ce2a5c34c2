using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Domain.Calibration;
using Router.Ledger.Calibration;

namespace Router.Scoring;

/// <summary>The windows of the latest measurement and when it was taken.</summary>
public sealed record DriftState(DateTimeOffset MeasuredAt, IReadOnlyList<CalibratorDrift> Windows);

/// <summary>
/// Watches calibration drift: every <see cref="CalibrationDriftOptions.Interval"/> it reads the
/// labelled window of every model and calibrator from the ledger and measures it against the
/// calibrator versions this service has loaded, so a refit clears the warning once it is loaded.
/// Publishes the latest measurement as gauges and as the "calibration-drift" health check
/// (Degraded while any window drifted). While PostgreSQL is unreachable the last state stays.
/// </summary>
public sealed partial class CalibrationDriftMonitor : BackgroundService, IHealthCheck
{
    public const string HealthCheckName = "calibration-drift";
    public const string MeterName = "Router.Calibration";

    private readonly CalibrationDriftReader _reader;
    private readonly CalibratorRegistry _calibrators;
    private readonly CalibrationDriftOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CalibrationDriftMonitor> _logger;
    private volatile DriftState? _latest;

    public CalibrationDriftMonitor(CalibrationDriftReader reader, CalibratorRegistry calibrators, IOptions<CalibrationDriftOptions> options, TimeProvider time, IMeterFactory meters, ILogger<CalibrationDriftMonitor> logger)
    {
        _reader = reader;
        _calibrators = calibrators;
        _options = options.Value;
        _time = time;
        _logger = logger;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("router.calibration.drift_ece", () => Observe(w => w.Current.Ece), description: "ECE of the current calibrator version on its window of labelled answers.");
        meter.CreateObservableGauge("router.calibration.drift_gap", () => Observe(w => w.Current.Gap), description: "Mean label minus mean calibrated confidence on the window (negative: overconfident).");
        meter.CreateObservableGauge("router.calibration.drift_labels", () => Observe(w => w.Labels), unit: "{label}", description: "Labelled answers in the window.");
        meter.CreateObservableGauge("router.calibration.drifted", () => Observe(w => w.Drifted ? 1 : 0), description: "1 while the window has drifted beyond the configured bounds, else 0.");
    }

    /// <summary>The latest measurement; null until the first one.</summary>
    public DriftState? Latest => _latest;

    public async Task MeasureAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var windows = await _reader.MeasureAsync(_calibrators.Versions(), now, team: null, cancellationToken);
        var before = _latest?.Windows.Where(w => w.Drifted).Select(Key).ToHashSet() ?? [];
        foreach (var window in windows.Where(w => w.Drifted && !before.Contains(Key(w))))
        {
            LogDrifted(_logger, window.Summary(_options.ConfidenceLevel), window.Reason!);
        }

        _latest = new DriftState(now, windows);
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_latest is not { } state)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Calibration drift is not measured yet (waiting for the calibrators and the ledger)."));
        }

        var drifted = state.Windows.Where(w => w.Drifted).ToList();
        var measuredAt = state.MeasuredAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        if (drifted.Count == 0)
        {
            var measured = state.Windows.Count(w => w.EnoughLabels);
            return Task.FromResult(HealthCheckResult.Healthy(string.Create(
                CultureInfo.InvariantCulture,
                $"{measured} calibrator window(s) with at least {_options.MinimumLabels} labels, none drifted; {state.Windows.Count - measured} with fewer (measured {measuredAt} UTC).")));
        }

        var lines = drifted.Select(w => $"{w.Summary(_options.ConfidenceLevel)}: {w.Reason}");
        return Task.FromResult(HealthCheckResult.Degraded(
            $"Calibration drifted (measured {measuredAt} UTC; refit with 'router calibrate --from-ledger'): {string.Join(" | ", lines)}"));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Measured before the calibrators are loaded, every calibrated answer would look drifted.
            await _calibrators.FirstLoad.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(_options.Interval, _time);
            do
            {
                try
                {
                    await MeasureAsync(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogMeasureFailed(_logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private IEnumerable<Measurement<T>> Observe<T>(Func<CalibratorDrift, T> value)
        where T : struct =>
        (_latest?.Windows ?? []).Select(w => new Measurement<T>(
            value(w),
            new KeyValuePair<string, object?>("model", w.Model),
            new KeyValuePair<string, object?>("calibrator", w.Calibrator),
            new KeyValuePair<string, object?>("calibrator_version", CalibratorDrift.VersionName(w.Version))));

    private static (string Model, string Calibrator, int? Version) Key(CalibratorDrift window) => (window.Model, window.Calibrator, window.Version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibration drifted: {Window}: {Reason}")]
    private static partial void LogDrifted(ILogger logger, string window, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Calibration drift could not be measured ({Error}); keeping the last measurement")]
    private static partial void LogMeasureFailed(ILogger logger, string error);
}

public static class CalibrationDriftMonitoring
{
    /// <summary>The drift monitor as a background service, its options and its health check (Degraded while a window drifted).</summary>
    public static IHostApplicationBuilder AddCalibrationDriftMonitor(this IHostApplicationBuilder builder)
    {
        builder.Services.AddCalibrationDrift(builder.Configuration);
        builder.Services.AddSingleton<CalibrationDriftMonitor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CalibrationDriftMonitor>());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            CalibrationDriftMonitor.HealthCheckName,
            sp => sp.GetRequiredService<CalibrationDriftMonitor>(),
            HealthStatus.Degraded,
            tags: null));
        return builder;
    }
}
