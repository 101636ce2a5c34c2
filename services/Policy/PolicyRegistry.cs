using Microsoft.Extensions.Options;
using Router.Domain.Policies;
using Router.Ledger;

namespace Router.PolicyService;

/// <summary>A policy in force: stored versions win over configured defaults (version 0).</summary>
public sealed record ActivePolicy(string Name, int Version, PolicyArtifact Artifact);

/// <summary>The latest version of every stored policy, reloaded on an interval; the last loaded set serves while PostgreSQL is unreachable.</summary>
public sealed partial class PolicyRegistry(ArtifactStore artifacts, IOptionsMonitor<PolicyOptions> options, ILogger<PolicyRegistry> logger) : BackgroundService
{
    private volatile IReadOnlyDictionary<string, ActivePolicy> _stored = new Dictionary<string, ActivePolicy>();

    public ActivePolicy? Find(string name)
    {
        if (_stored.TryGetValue(name, out var stored))
        {
            return stored;
        }

        return options.CurrentValue.Defaults.TryGetValue(name, out var configured)
            ? new ActivePolicy(name, 0, new PolicyArtifact(configured.Chain, configured.Thresholds, "calibrated", null, "configured", null, null, null))
            : null;
    }

    public IEnumerable<string> Names => _stored.Keys.Union(options.CurrentValue.Defaults.Keys).Order();

    /// <summary>
    /// A given version of a policy (0: the latest), so a request planned with one version is decided
    /// by that version even after a newer one was stored. Older versions are read from the ledger.
    /// </summary>
    public async Task<ActivePolicy?> FindAsync(string name, int version, CancellationToken cancellationToken)
    {
        var latest = Find(name);
        if (version == 0 || latest?.Version == version)
        {
            return latest;
        }

        var stored = await artifacts.GetAsync(ArtifactKinds.Policy, name, version, cancellationToken);
        return stored is null ? null : new ActivePolicy(name, version, PolicyArtifact.FromJson(stored.Payload));
    }

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, ActivePolicy>(StringComparer.Ordinal);
        foreach (var artifact in await artifacts.GetLatestOfKindAsync(ArtifactKinds.Policy, cancellationToken))
        {
            try
            {
                var payload = PolicyArtifact.FromJson(artifact.Payload);
                if (payload.ToPolicy().Problems().Concat(payload.RecipeProblems()).ToList() is { Count: > 0 } problems)
                {
                    LogUnusable(logger, artifact.Name, artifact.Version, string.Join(" ", problems));
                    continue;
                }

                loaded[artifact.Name] = new ActivePolicy(artifact.Name, artifact.Version, payload);
            }
            catch (System.Text.Json.JsonException e)
            {
                LogUnusable(logger, artifact.Name, artifact.Version, e.Message);
            }
        }

        _stored = loaded;
    }

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

            await Task.Delay(options.CurrentValue.RefreshInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Policies could not be reloaded ({Error}); serving the last loaded set")]
    private static partial void LogReloadFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Policy {Name} v{Version} is unusable and is skipped: {Problem}")]
    private static partial void LogUnusable(ILogger logger, string name, int version, string problem);
}
