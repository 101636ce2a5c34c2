using Microsoft.Extensions.Options;
using Router.Ledger;
using Router.OnnxModels;

namespace Router.ClassifierService;

/// <summary>The loaded classifier and where it came from.</summary>
public sealed record LoadedClassifier(OnnxClassifier Model, string Name, int Version);

/// <summary>
/// Holds the classifier in use: the configured file, or the latest version stored in the ledger
/// (reloaded on an interval). Null until one is available; the service then falls back.
/// </summary>
public sealed partial class ClassifierModel(IOptions<ClassifierOptions> options, OnnxExecutionProvider provider, IServiceProvider services, ILogger<ClassifierModel> logger) : BackgroundService
{
    public const string ArtifactName = "pre-call";

    private volatile LoadedClassifier? _current;

    public LoadedClassifier? Current => _current;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ModelPath is { Length: > 0 } path)
        {
            _current = new LoadedClassifier(new OnnxClassifier(await File.ReadAllBytesAsync(path, stoppingToken), provider.NewSessionOptions()), Path.GetFileName(path), 0);
            return;
        }

        var artifacts = services.GetService<ArtifactStore>();
        while (artifacts is not null && !stoppingToken.IsCancellationRequested)
        {
            try
            {
                var latest = await artifacts.GetLatestAsync(ArtifactKinds.Classifier, ArtifactName, stoppingToken);
                if (latest is not null && latest.Version != _current?.Version)
                {
                    var artifact = ClassifierArtifact.FromJson(latest.Payload);
                    _current = new LoadedClassifier(new OnnxClassifier(artifact.Onnx, provider.NewSessionOptions()), latest.Name, latest.Version);
                    LogLoaded(logger, latest.Name, latest.Version, string.Join(", ", artifact.Models));
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogReloadFailed(logger, e.Message);
            }

            await Task.Delay(options.Value.RefreshInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded classifier {Name} v{Version} for {Models}")]
    private static partial void LogLoaded(ILogger logger, string name, int version, string models);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Classifier could not be loaded from the ledger ({Error})")]
    private static partial void LogReloadFailed(ILogger logger, string error);
}
