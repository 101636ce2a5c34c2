using Microsoft.Extensions.Options;

namespace Router.ClassifierService;

/// <summary>Where the pre-call model comes from and how it runs ("Classifier" section).</summary>
public sealed class ClassifierOptions
{
    public const string SectionName = "Classifier";

    /// <summary>
    /// An ONNX file from `router classifier train --out`, absolute or relative to the content root
    /// (Models/default-portfolio.onnx is the committed model of the default fleet); when unset, the
    /// latest stored version is loaded from the ledger.
    /// </summary>
    public string? ModelPath { get; set; }

    public const string Auto = "auto";
    public const string Cuda = "cuda";
    public const string Cpu = "cpu";

    /// <summary>auto (CUDA when the machine has it, else the CPU), cuda (required) or cpu.</summary>
    public string ExecutionProvider { get; set; } = Auto;

    /// <summary>P(IK) a model needs to be worth trying, unless the request says otherwise.</summary>
    public double MinPIk { get; set; } = 0.5;

    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A relative model path names a file under the content root, wherever the process was started.</summary>
    public static string? Resolve(string? modelPath, string contentRoot) =>
        modelPath is { Length: > 0 } ? Path.GetFullPath(modelPath, contentRoot) : modelPath;
}

public sealed class ClassifierOptionsValidator : IValidateOptions<ClassifierOptions>
{
    public ValidateOptionsResult Validate(string? name, ClassifierOptions options)
    {
        var failures = new List<string>();
        var key = ClassifierOptions.SectionName;
        if (options.ModelPath is { Length: > 0 } path && !File.Exists(path))
        {
            failures.Add($"{key}:ModelPath: '{path}' does not exist.");
        }

        if (options.ExecutionProvider is not (ClassifierOptions.Auto or ClassifierOptions.Cuda or ClassifierOptions.Cpu))
        {
            failures.Add($"{key}:ExecutionProvider: must be auto, cuda or cpu; got '{options.ExecutionProvider}'.");
        }

        if (double.IsNaN(options.MinPIk) || options.MinPIk is < 0 or > 1)
        {
            failures.Add($"{key}:MinPIk: must be in [0, 1]; got {options.MinPIk}.");
        }

        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            failures.Add($"{key}:RefreshInterval: must be positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
