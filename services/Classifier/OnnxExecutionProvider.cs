using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Router.ClassifierService;

/// <summary>
/// Where ONNX Runtime runs the classifier, chosen once at start-up from Classifier:ExecutionProvider:
/// <c>cuda</c> requires the GPU (start-up fails without it), <c>cpu</c> never asks for it, and
/// <c>auto</c> tries CUDA and falls back to the CPU with one log line (the GPU build of ONNX Runtime
/// runs on the CPU where CUDA's libraries are missing). /health names the provider in use.
/// </summary>
public sealed partial class OnnxExecutionProvider : IHealthCheck
{
    public const string HealthCheckName = "onnx-runtime";

    public OnnxExecutionProvider(IOptions<ClassifierOptions> options, ILogger<OnnxExecutionProvider> logger)
    {
        var configured = options.Value.ExecutionProvider;
        if (configured == ClassifierOptions.Cpu)
        {
            (Name, Reason) = (ClassifierOptions.Cpu, "configured");
            return;
        }

        var cudaError = TryCuda();
        if (cudaError is null)
        {
            (Name, Reason) = (ClassifierOptions.Cuda, configured == ClassifierOptions.Auto ? "auto: CUDA is available" : "configured");
        }
        else if (configured == ClassifierOptions.Cuda)
        {
            throw new InvalidOperationException(
                $"Classifier:ExecutionProvider is cuda, but ONNX Runtime cannot use CUDA here ({cudaError}). Use auto or cpu on a machine without a GPU.");
        }
        else
        {
            (Name, Reason) = (ClassifierOptions.Cpu, $"auto: CUDA is not available ({cudaError})");
            LogFallback(logger, cudaError);
        }
    }

    /// <summary>The provider sessions run on: cuda or cpu.</summary>
    public string Name { get; }

    public string Reason { get; }

    public SessionOptions NewSessionOptions()
    {
        var session = new SessionOptions();
        if (Name == ClassifierOptions.Cuda)
        {
            session.AppendExecutionProvider_CUDA();
        }

        return session;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy($"execution provider {Name} ({Reason})"));

    /// <summary>Null when CUDA can be used, else why not. ONNX Runtime's own error log of the failed load is held back: the caller reports it once.</summary>
    private static string? TryCuda()
    {
        var environment = OrtEnv.Instance();
        var level = environment.EnvLogLevel;
        environment.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        using var probe = new SessionOptions();
        try
        {
            probe.AppendExecutionProvider_CUDA();
            return null;
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return e.Message.Split('\n')[0].Trim();
        }
        finally
        {
            environment.EnvLogLevel = level;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ONNX Runtime cannot use CUDA ({Reason}); the classifier runs on the CPU")]
    private static partial void LogFallback(ILogger logger, string reason);
}
