using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Domain.Traces;
using Xunit;

namespace Router.Domain.Tests.Traces;

public sealed class SignalTraceTests
{
    private static readonly SignalTrace Sample = new(
        "simulated-qa", "train", 7, "llama3.1-8b", "Answer: Paris", true, 30, 12, 0.0000076, 63,
        new Dictionary<string, double> { [SignalNames.MeanLogprob] = -0.25, [SignalNames.PTrue] = 0.8, [SignalNames.AnswerOptionProbability] = double.NaN },
        new Dictionary<string, ExtraCallRecord> { [ExtraCallKinds.SelfVerification] = new(1, 55, 1, 0.00001, 20), [ExtraCallKinds.Sample] = new(5, 150, 60, 0.00004, 300) });

    [Fact]
    public void A_trace_survives_a_jsonl_round_trip_without_its_undefined_signals()
    {
        var writer = new StringWriter();
        SignalTrace.WriteJsonl(writer, [Sample, Sample with { QueryIndex = 8 }]);

        var read = SignalTrace.ReadJsonl(new StringReader(writer.ToString() + "\n")).ToList();

        Assert.Equal(2, read.Count);
        Assert.Equal(Sample with { Signals = read[0].Signals, ExtraCalls = read[0].ExtraCalls }, read[0]);
        Assert.Equal(new Dictionary<string, double> { [SignalNames.MeanLogprob] = -0.25, [SignalNames.PTrue] = 0.8 }, read[0].Signals);
        Assert.Equal(Sample.ExtraCalls[ExtraCallKinds.Sample], read[0].ExtraCalls[ExtraCallKinds.Sample]);
        Assert.Contains("\"query_idx\":7", writer.ToString(), StringComparison.Ordinal);
        Assert.Equal(8, read[1].QueryIndex);
    }

    [Fact]
    public void A_bad_line_is_named()
    {
        var error = Assert.Throws<FormatException>(() => SignalTrace.ReadJsonl(new StringReader(Sample.ToJsonLine() + "\n{\"benchmark\": \"x\"}\n")).ToList());

        Assert.StartsWith("JSONL line 2:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_extra_cost_of_a_recipe_is_what_its_calls_cost()
    {
        Assert.Equal((0.0, 0.0), Sample.ExtraFor(SignalRecipe.Default));
        Assert.Equal((0.00001, 20.0), Sample.ExtraFor(SignalRecipe.Single(SignalNames.PTrue)));
        Assert.Equal((0.00005, 320.0), Sample.ExtraFor(SignalRecipe.Fuse([SignalNames.PTrue, SignalNames.Agreement, SignalNames.PIk], [0, 1, 1, 1], 5)));
    }

    [Fact]
    public void A_cascade_trace_carries_its_one_signal()
    {
        var logprob = new CascadeTrace("mmlu", "test", 1, "c", "llama3.1-8b", "B", true, -0.2, "mean_answer_token_logprob", 10, 1, 0.1, 5);
        var verification = logprob with { Benchmark = "triviaqa", RawConfidence = Math.Log(0.7), ConfidenceSignal = "log_p_yes_self_verification" };

        Assert.Equal(new Dictionary<string, double> { [SignalNames.MeanLogprob] = -0.2 }, SignalTrace.FromCascade(logprob).Signals);
        Assert.Equal(0.7, SignalTrace.FromCascade(verification).Signals[SignalNames.PTrue], 12);
        Assert.Empty(SignalTrace.FromCascade(verification).ExtraCalls);
    }

    [Fact]
    public void Calibrators_are_named_per_model_family_and_signal_and_the_default_keeps_its_old_name()
    {
        Assert.Equal("m/f", CalibratorArtifact.Name("m", "f", SignalNames.GeometricMeanProbability));
        Assert.Equal("m", CalibratorArtifact.Name("m", null, SignalRecipe.Default.CalibratorSignal));
        Assert.Equal("m/f#p_true", CalibratorArtifact.Name("m", "f", SignalNames.PTrue));
        Assert.Equal("m/f", CalibratorArtifact.Owner("m/f#agreement[m=5]"));
        Assert.Equal("m", CalibratorArtifact.Owner("m"));
    }
}
