using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Router.Domain.Calibration;
using Router.Domain.Policies;
using Router.Domain.Signals;

namespace Router.Benchmarks;

/// <summary>
/// BenchmarkDotNet over the pure parts each routed request runs: the token signals, a calibrator
/// and the escalation decision. In-process and short so it finishes in a few minutes here.
/// </summary>
public sealed class MicroBenchmark : IBenchmark
{
    public string Name => "micro";

    public string Description => "BenchmarkDotNet: signal, calibration and policy code per request (time and allocations)";

    public Task RunAsync(CancellationToken cancellationToken)
    {
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableLogFile | ConfigOptions.JoinSummary)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "router-benchmarks", "BenchmarkDotNet"));
        BenchmarkRunner.Run([typeof(SignalMicroBenchmarks), typeof(DecisionMicroBenchmarks)], config);
        return Task.CompletedTask;
    }
}

/// <summary>The Scoring service's work for one answer of a given length with k = 5 alternatives per token.</summary>
public class SignalMicroBenchmarks
{
    private readonly Router.Domain.Signals.SignalOptions _options = new();
    private AttemptTokens _attempt = null!;
    private double[] _confidences = [];
    private double[] _groups = [];

    [Params(64, 512)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        var tokens = new List<string>();
        var logprobs = new List<double>();
        var alternatives = new List<IReadOnlyList<(string, double)>>();
        for (var i = 0; i < Tokens; i++)
        {
            var chosen = -Math.Abs(random.NextDouble() * random.NextDouble() * 2);
            tokens.Add($" t{i}");
            logprobs.Add(chosen);
            alternatives.Add([($" t{i}", chosen), .. Enumerable.Range(1, 4).Select(k => ($" a{k}", chosen - 1 - k - random.NextDouble()))]);
        }

        _attempt = new AttemptTokens(tokens, logprobs, alternatives);
        _confidences = TokenSignals.TokenConfidences(_attempt);
        _groups = TokenSignals.GroupConfidences(_confidences, 16);
    }

    [Benchmark(Description = "every token-level signal")]
    public Dictionary<string, double> AllSignals() => AttemptSignals.Compute(_attempt, _options);

    [Benchmark(Description = "token confidences (DeepConf)")]
    public double[] TokenConfidences() => TokenSignals.TokenConfidences(_attempt);

    [Benchmark(Description = "sliding group confidences")]
    public double[] GroupConfidences() => TokenSignals.GroupConfidences(_confidences, 16);

    [Benchmark(Description = "bottom-10% group confidence")]
    public double BottomPercentGroupConfidence() => TokenSignals.BottomPercentGroupConfidence(_groups, 0.1);
}

/// <summary>What turns a signal into a decision: a calibrator and the escalation policy.</summary>
public class DecisionMicroBenchmarks
{
    private readonly PlattCalibrator _platt = new(1.1, -0.2);
    private readonly EscalationPolicy _policy = new(["llama3.1-8b", "llama3.1-70b", "gpt-4o"], [0.9, 0.8]);
    private readonly RequestLimits _limits = new(MaxCostUsd: 0.01);
    private IsotonicCalibrator _isotonic = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        var scores = Enumerable.Range(0, 2000).Select(_ => random.NextDouble()).ToArray();
        var correct = scores.Select(s => random.NextDouble() < s).ToArray();
        _isotonic = CalibratorFitter.FitIsotonic(scores, correct);
    }

    [Benchmark(Description = "Platt calibrate")]
    public double Platt() => _platt.Calibrate(0.83);

    [Benchmark(Description = "isotonic calibrate (fitted on 2,000)")]
    public double Isotonic() => _isotonic.Calibrate(0.83);

    [Benchmark(Description = "escalation decision")]
    public StageVerdict Decide() => _policy.Decide(0, 0.87, 0.0001, 120, _limits, 0.002);
}
