using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Signals;

public sealed class TokenSignalsTests
{
    private const double Tolerance = 1e-9;

    // Three tokens, k = 2 alternatives each (chosen token first, as OpenAI-compatible APIs return them).
    private static readonly AttemptTokens Sample = new(
        ["Answer", ":", " B"],
        [0.0, -0.1, -0.5],
        [
            [("Answer", 0.0), ("The", -4.0)],
            [(":", -0.1), (" is", -2.0)],
            [(" B", -0.5), (" C", -1.0)],
        ]);

    [Fact]
    public void Mean_logprob_is_the_arithmetic_mean_and_its_exp_the_geometric_mean_probability()
    {
        Assert.Equal(-0.2, TokenSignals.MeanLogprob(Sample.Logprobs), Tolerance);
        var signals = AttemptSignals.Compute(Sample, new SignalOptions());
        Assert.Equal(Math.Exp(-0.2), signals[SignalNames.GeometricMeanProbability], Tolerance);
    }

    [Fact]
    public void Mean_logprob_drops_nan_floors_minus_infinity_and_is_nan_when_empty()
    {
        Assert.Equal((-1.0 + -30.0) / 2, TokenSignals.MeanLogprob([-1.0, double.NaN, double.NegativeInfinity]), Tolerance);
        Assert.True(double.IsNaN(TokenSignals.MeanLogprob([])));
    }

    [Fact]
    public void Token_confidence_is_minus_the_mean_of_the_top_k_logprobs()
    {
        var c = TokenSignals.TokenConfidences(Sample);

        Assert.Equal([2.0, 1.05, 0.75], c.Select(v => Math.Round(v, 12)));
    }

    [Fact]
    public void Without_alternatives_token_confidence_is_minus_the_chosen_logprob()
    {
        var bare = new AttemptTokens(["a", "b"], [-0.2, double.NegativeInfinity], [[], []]);

        Assert.Equal([0.2, 30.0], TokenSignals.TokenConfidences(bare));
    }

    [Fact]
    public void Group_bottom_lowest_and_tail_confidences_follow_their_definitions()
    {
        double[] c = [4, 2, 6, 1, 3];

        var groups = TokenSignals.GroupConfidences(c, 2);

        Assert.Equal([3.0, 4.0, 3.5, 2.0], groups);
        Assert.Equal(2.0, TokenSignals.BottomPercentGroupConfidence(groups, 0.1));
        Assert.Equal(2.5, TokenSignals.BottomPercentGroupConfidence(groups, 0.5));
        Assert.Equal(2.0, TokenSignals.LowestGroupConfidence(groups));
        Assert.Equal(2.0, TokenSignals.TailConfidence(c, 2));
    }

    [Fact]
    public void Window_and_tail_longer_than_the_answer_are_clipped_and_empty_answers_are_nan()
    {
        Assert.Equal([2.0], TokenSignals.GroupConfidences([1, 3], 64));
        Assert.Equal(2.0, TokenSignals.TailConfidence([1, 3], 64));
        Assert.Empty(TokenSignals.GroupConfidences([], 4));
        Assert.True(double.IsNaN(TokenSignals.BottomPercentGroupConfidence([], 0.1)));
        Assert.True(double.IsNaN(TokenSignals.TailConfidence([], 4)));
        var empty = AttemptSignals.Compute(AttemptTokens.Empty, new SignalOptions());
        Assert.True(double.IsNaN(empty[SignalNames.MeanLogprob]));
        Assert.Equal(0, empty[SignalNames.AnswerTokens]);
    }

    [Fact]
    public void Max_probability_quantiles()
    {
        var max = TokenSignals.MaxProbabilities(Sample);

        Assert.Equal([1.0, Math.Exp(-0.1), Math.Exp(-0.5)], max);
        Assert.Equal(Math.Exp(-0.5), TokenSignals.Quantile(max, 0));
        Assert.Equal(Math.Exp(-0.1), TokenSignals.Quantile(max, 0.5));
    }

    [Fact]
    public void Answer_option_probability_normalises_over_the_option_tokens()
    {
        var p = TokenSignals.AnswerOptionProbability(Sample, ["A", "B", "C", "D"]);

        Assert.Equal(Math.Exp(-0.5) / (Math.Exp(-0.5) + Math.Exp(-1.0)), p, Tolerance);
        Assert.True(double.IsNaN(TokenSignals.AnswerOptionProbability(Sample, ["E"])));
        Assert.True(double.IsNaN(TokenSignals.AnswerOptionProbability(Sample, [])));
    }

    [Fact]
    public void Answer_format_confidence_is_the_probability_of_answer_as_first_token()
    {
        Assert.Equal(1.0, TokenSignals.AnswerFormatConfidence(Sample));
        var other = new AttemptTokens(["The"], [-0.3], [[("The", -0.3), ("Answer", -1.5)]]);
        Assert.Equal(Math.Exp(-1.5), TokenSignals.AnswerFormatConfidence(other), Tolerance);
        Assert.True(double.IsNaN(TokenSignals.AnswerFormatConfidence(AttemptTokens.Empty)));
    }

    [Fact]
    public void P_true_normalises_yes_against_no()
    {
        Assert.Equal(0.8, TokenSignals.PTrue(Math.Log(0.4), Math.Log(0.1)), Tolerance);
        Assert.True(double.IsNaN(TokenSignals.PTrue(double.NegativeInfinity, double.NegativeInfinity)));
    }

    [Fact]
    public void Agreement_and_entropy_compare_normalised_answers()
    {
        string[] samples = ["Answer: Paris.", "paris", "the Paris", "Lyon"];

        Assert.Equal(0.75, TokenSignals.Agreement("Answer: Paris", samples));
        var p = new[] { 4 / 5.0, 1 / 5.0 };
        Assert.Equal(-p.Sum(x => x * Math.Log(x)), TokenSignals.AnswerEntropy("Paris", samples), Tolerance);
        Assert.True(double.IsNaN(TokenSignals.Agreement("Paris", [])));
    }

    [Fact]
    public void Compute_names_every_signal_and_adds_the_ones_that_need_more_input_when_given()
    {
        var signals = AttemptSignals.Compute(
            Sample,
            new SignalOptions { AnswerOptions = ["A", "B", "C", "D"] },
            "Answer: B",
            ["Answer: B", "Answer: C"],
            (Math.Log(0.6), Math.Log(0.2)),
            Math.Log(0.7));

        Assert.Equal(0.75, signals[SignalNames.PTrue], Tolerance);
        Assert.Equal(0.7, signals[SignalNames.PIk], Tolerance);
        Assert.Equal(0.5, signals[SignalNames.Agreement]);
        Assert.Contains(SignalNames.BottomGroupConfidence, signals.Keys);
        Assert.Contains(SignalNames.AnswerOptionProbability, signals.Keys);
    }
}
