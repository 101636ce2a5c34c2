using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Domain.Calibration;

namespace Router.Ledger.Calibration;

/// <summary>
/// Reads the windows of calibration drift from the ledger (feedback labels joined to the answer
/// they label: its calibrated confidence, calibrator version and raw signals) and measures them
/// with <see cref="CalibrationDrift"/>. The Scoring service measures against the calibrators it has
/// loaded, the Gateway's report and the CLI against the latest stored ones.
/// </summary>
public sealed class CalibrationDriftReader(IDbContextFactory<LedgerDbContext> contexts, ArtifactStore artifacts, IOptions<CalibrationDriftOptions> options)
{
    // Feedback labels the answer that was returned: the attempt neither discarded nor failed.
    // Scanned from the feedback's created_at index, newest first per model and calibrator (an
    // answer served uncalibrated is in its model's general window), at most @labels each.
    private const string WindowQuery = """
        SELECT model, calibrator_version, confidence, signals, correct, created_at
        FROM (
            SELECT a.model, a.calibrator_version, a.confidence, a.signals::text AS signals,
                   COALESCE(f.correct, f.score >= 0.5) AS correct, f.created_at,
                   row_number() OVER (
                       PARTITION BY a.model, COALESCE(substring(a.calibrator_version from '^(.*)@[0-9]+$'), a.model)
                       ORDER BY f.created_at DESC, f.request_id) AS recency
            FROM feedback f
            JOIN attempts a ON a.request_id = f.request_id AND NOT a.discarded AND a.error IS NULL
            WHERE f.created_at >= @since AND f.created_at <= @now
              AND (@team IS NULL OR f.team_id = @team)
              AND (f.correct IS NOT NULL OR f.score IS NOT NULL)
              AND a.confidence IS NOT NULL
              AND a.signals ? 'geometric_mean_probability') labelled
        WHERE recency <= @labels
        """;

    // Calibrator versions are immutable: each is read from the ledger once.
    private readonly ConcurrentDictionary<(string Calibrator, int Version), CalibratorArtifact?> _versions = new();

    public CalibrationDriftOptions Options => options.Value;

    /// <summary>Every window at <paramref name="now"/> measured against <paramref name="current"/>; of one team's labels, or of all when <paramref name="team"/> is null.</summary>
    public async Task<IReadOnlyList<CalibratorDrift>> MeasureAsync(IReadOnlyDictionary<string, VersionedCalibrator> current, DateTimeOffset now, Guid? team, CancellationToken cancellationToken)
    {
        var answers = await ReadWindowsAsync(now, team, cancellationToken);
        var served = new Dictionary<(string Calibrator, int Version), CalibratorArtifact>();
        foreach (var (name, version) in CalibrationDrift.EarlierVersions(answers, current))
        {
            if (await ReadVersionAsync(name, version, cancellationToken) is { } artifact)
            {
                served[(name, version)] = artifact;
            }
        }

        return CalibrationDrift.Assess(answers, current, served, now, Options);
    }

    /// <summary>The newest stored version of every calibrator: what a Scoring service loads next.</summary>
    public async Task<IReadOnlyDictionary<string, VersionedCalibrator>> LatestCalibratorsAsync(CancellationToken cancellationToken)
    {
        var latest = new Dictionary<string, VersionedCalibrator>(StringComparer.Ordinal);
        foreach (var artifact in await artifacts.GetLatestOfKindAsync(ArtifactKinds.Calibrator, cancellationToken))
        {
            if (Parse(artifact.Payload) is { } calibrator)
            {
                latest[artifact.Name] = new VersionedCalibrator(artifact.Version, calibrator);
            }
        }

        return latest;
    }

    /// <summary>The labelled answers of every window at <paramref name="now"/>, newest first per window.</summary>
    public async Task<IReadOnlyList<LabelledConfidence>> ReadWindowsAsync(DateTimeOffset now, Guid? team, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = WindowQuery;
        command.Parameters.Add(new NpgsqlParameter<DateTime>("since", (now - Options.WindowAge).UtcDateTime));
        command.Parameters.Add(new NpgsqlParameter<DateTime>("now", now.UtcDateTime));
        command.Parameters.Add(new NpgsqlParameter<Guid?>("team", NpgsqlTypes.NpgsqlDbType.Uuid) { TypedValue = team });
        command.Parameters.Add(new NpgsqlParameter<int>("labels", Options.WindowLabels));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var answers = new List<LabelledConfidence>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var (calibrator, version) = reader.IsDBNull(1) ? (null, null) : CalibratorVersion(reader.GetString(1));
            answers.Add(new LabelledConfidence(
                reader.GetString(0),
                calibrator,
                version,
                reader.GetDouble(2),
                JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(3)) ?? [],
                reader.GetBoolean(4),
                new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero)));
        }

        return answers;
    }

    /// <summary>An attempt's calibrator as the ledger names it, "name@version".</summary>
    private static (string? Name, int? Version) CalibratorVersion(string value)
    {
        var at = value.LastIndexOf('@');
        return at > 0 && int.TryParse(value.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? (value[..at], version)
            : (null, null);
    }

    private async Task<CalibratorArtifact?> ReadVersionAsync(string name, int version, CancellationToken cancellationToken)
    {
        if (_versions.TryGetValue((name, version), out var known))
        {
            return known;
        }

        var stored = await artifacts.GetAsync(ArtifactKinds.Calibrator, name, version, cancellationToken);
        var artifact = stored is null ? null : Parse(stored.Payload);
        _versions[(name, version)] = artifact;
        return artifact;
    }

    /// <summary>An unreadable payload is left out, as the Scoring service leaves it out.</summary>
    private static CalibratorArtifact? Parse(string payload)
    {
        try
        {
            return CalibratorArtifact.FromJson(payload);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

public static class CalibrationDriftRegistration
{
    /// <summary>The "CalibrationDrift" options, validated at start-up, and the reader of drift windows.</summary>
    public static IServiceCollection AddCalibrationDrift(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CalibrationDriftOptions>()
            .Bind(configuration.GetSection(CalibrationDriftOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CalibrationDriftOptions>, CalibrationDriftOptionsValidator>();
        services.AddSingleton<CalibrationDriftReader>();
        return services;
    }

    private sealed class CalibrationDriftOptionsValidator : IValidateOptions<CalibrationDriftOptions>
    {
        public ValidateOptionsResult Validate(string? name, CalibrationDriftOptions options) =>
            options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
