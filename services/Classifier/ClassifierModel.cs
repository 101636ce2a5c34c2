using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Router.Ledger;
using Router.OnnxModels;

namespace Router.ClassifierService;

/// <summary>The loaded classifier and where it came from.</summary>
public sealed record LoadedClassifier(OnnxClassifier Model, string Name, int Version);

/// <summary>
/// Holds the classifier in use: the configured file, or the latest version stored in the ledger
/// (reloaded on an interval). Null until one is available; the service then falls back.
/// </summary>
public sealed partial class ClassifierModel(IOptions<ClassifierOptions> options, IServiceProvider services, ILogger<ClassifierModel> logger) : BackgroundService
{
    public const string ArtifactName = "pre-call";

    private volatile LoadedClassifier? _current;

    public LoadedClassifier? Current => _current;

    /// <summary>Session options for the configured provider; CUDA fails loudly when the GPU build is not installed.</summary>
    public Microsoft.ML.OnnxRuntime.SessionOptions SessionOptions()
    {
        var session = new Microsoft.ML.OnnxRuntime.SessionOptions();
        if (options.Value.ExecutionProvider == "cuda")
        {
            try
            {
                session.AppendExecutionProvider_CUDA();
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                session.Dispose();
                throw new InvalidOperationException("Classifier:ExecutionProvider is cuda, but this ONNX Runtime build has no CUDA provider (install Microsoft.ML.OnnxRuntime.Gpu on a GPU machine, or use cpu).", e);
            }
        }

        return session;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ModelPath is { Length: > 0 } path)
        {
            _current = new LoadedClassifier(new OnnxClassifier(await File.ReadAllBytesAsync(path, stoppingToken), SessionOptions()), Path.GetFileName(path), 0);
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
                    _current = new LoadedClassifier(new OnnxClassifier(artifact.Onnx, SessionOptions()), latest.Name, latest.Version);
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
