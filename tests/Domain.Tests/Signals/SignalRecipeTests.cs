using Router.Domain.Calibration;
using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Xunit;

namespace Router.Domain.Tests.Signals;

public sealed class SignalRecipeTests
{
    private const double Tolerance = 1e-9;

    [Fact]
    public void The_default_recipe_is_the_mean_logprob_with_no_extra_call_and_reads_the_calibrators_stored_before_recipes()
    {
        var recipe = SignalRecipe.Default;

        Assert.Equal(SignalNames.MeanLogprob, recipe.Key);
        Assert.Equal(SignalNames.GeometricMeanProbability, recipe.CalibratorSignal);
        Assert.Empty(recipe.ExtraCalls);
        Assert.Empty(recipe.EstimateExtraCalls(500, 40));
        Assert.False(recipe.BeforeAnswer);
        Assert.Empty(recipe.Problems());
    }

    [Fact]
    public void Each_recipe_says_which_calls_it_needs_and_prices_their_expected_tokens()
    {
        var price = new TokenPrice(2.5m, 10m);
        var pTrue = SignalRecipe.Single(SignalNames.PTrue);
        var pIk = SignalRecipe.Single(SignalNames.PIk);
        var agreement = SignalRecipe.Single(SignalNames.Agreement, samples: 4);
        var fused = SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue, SignalNames.PIk, SignalNames.AnswerEntropy], [0, 1, 1, 1, 1], samples: 3);

        var verification = Assert.Single(pTrue.EstimateExtraCalls(100, 20));
        var samples = Assert.Single(agreement.EstimateExtraCalls(100, 20));

        Assert.Equal(new ExtraCallEstimate(ExtraCallKinds.SelfVerification, 1, 120 + ExtraCallPrompts.SelfVerificationTemplateTokens, 1), verification);
        Assert.Equal(new ExtraCallEstimate(ExtraCallKinds.Sample, 4, 400, 80), samples);
        Assert.Equal([ExtraCallKinds.DoYouKnow], pIk.ExtraCalls);
        Assert.Equal([ExtraCallKinds.SelfVerification, ExtraCallKinds.DoYouKnow, ExtraCallKinds.Sample], fused.ExtraCalls);
        Assert.Equal(price.Cost(400, 80), agreement.EstimateExtraCostUsd(price, 100, 20));
        Assert.Equal(fused.EstimateExtraCalls(100, 20).Sum(e => price.Cost(e.PromptTokens, e.CompletionTokens)), fused.EstimateExtraCostUsd(price, 100, 20));
        Assert.True(ExtraCallPrompts.SelfVerificationTemplateTokens > 5);
    }

    [Fact]
    public void Only_p_ik_alone_is_read_before_the_answer()
    {
        Assert.True(SignalRecipe.Single(SignalNames.PIk).BeforeAnswer);
        Assert.False(SignalRecipe.Fuse([SignalNames.PIk, SignalNames.MeanLogprob], [0, 1, 1]).BeforeAnswer);
        Assert.False(SignalRecipe.Single(SignalNames.PTrue).BeforeAnswer);
    }

    [Fact]
    public void Keys_name_the_signal_the_inputs_and_the_sample_count()
    {
        Assert.Equal("p_true", SignalRecipe.Single(SignalNames.PTrue).CalibratorSignal);
        Assert.Equal("agreement[m=5]", SignalRecipe.Single(SignalNames.Agreement, 5).Key);
        Assert.Equal("fused(mean_logprob,p_true)", SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue], [0, 1, 2]).Key);
        Assert.Equal("fused(p_true,agreement)[m=3]", SignalRecipe.Fuse([SignalNames.PTrue, SignalNames.Agreement], [0, 1, 2], 3).Key);
    }

    [Fact]
    public void Problems_name_the_field()
    {
        string[] problems =
        [
            .. SignalRecipe.Single("loudness").Problems(),
            .. SignalRecipe.Single(SignalNames.AnswerTokens).Problems(),
            .. SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue], [0, 1]).Problems(),
            .. SignalRecipe.Fuse([], []).Problems(),
            .. SignalRecipe.Single(SignalNames.Agreement).Problems(),
            .. (SignalRecipe.Single(SignalNames.PTrue) with { Samples = 2 }).Problems(),
            .. (SignalRecipe.Single(SignalNames.Agreement, 3) with { SampleTemperature = 0 }).Problems(),
            .. (SignalRecipe.Single(SignalNames.PTrue) with { Weights = [1.0] }).Problems(),
            .. SignalRecipe.Fuse([SignalNames.MeanLogprob], [0, double.NaN]).Problems(),
        ];

        Assert.Collection(
            problems,
            p => Assert.StartsWith("signal: 'loudness'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("signal: 'answer_tokens'", p, StringComparison.Ordinal),
            p => Assert.Equal("weights: needs 3 (an intercept, then one per input); got 2.", p),
            p => Assert.StartsWith("inputs: a fused recipe needs at least one", p, StringComparison.Ordinal),
            p => Assert.StartsWith("weights: needs 1", p, StringComparison.Ordinal),
            p => Assert.StartsWith("samples: agreement and answer entropy need at least 1", p, StringComparison.Ordinal),
            p => Assert.StartsWith("samples: must be 0", p, StringComparison.Ordinal),
            p => Assert.StartsWith("sample_temperature:", p, StringComparison.Ordinal),
            p => Assert.StartsWith("inputs/weights:", p, StringComparison.Ordinal),
            p => Assert.Equal("weights: must be finite numbers.", p));
    }

    [Fact]
    public void Recipes_round_trip_in_a_policy_and_a_policy_stored_before_recipes_still_loads()
    {
        var fused = SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.Agreement], [-0.5, 1.25, 2], 5) with { SampleTemperature = 0.9 };
        var artifact = new PolicyArtifact(["a", "b", "c"], [0.8, 0.7], "calibrated", new PolicyTarget(0.01, 0.1), "risk-bounded", 0.009, -0.004, 0.31)
        {
            Recipes = [fused, SignalRecipe.Single(SignalNames.PTrue), SignalRecipe.Default],
        };
        const string Old = """{"chain":["a","b"],"thresholds":[0.9],"confidenceScale":"calibrated","target":null,"method":"configured","riskBound":null,"accuracyChangeOnFit":null,"costSavedOnFit":null}""";

        var loaded = PolicyArtifact.FromJson(artifact.ToJson());
        var old = PolicyArtifact.FromJson(Old);

        var recipes = Assert.IsAssignableFrom<IReadOnlyList<SignalRecipe>>(loaded.Recipes);
        Assert.Equal(artifact.Recipes!.Select(r => r.Key), recipes.Select(r => r.Key));
        Assert.Equal(fused.Weights, recipes[0].Weights);
        Assert.Equal((5, 0.9), (recipes[0].Samples, recipes[0].SampleTemperature));
        Assert.Equal(SignalNames.PTrue, loaded.RecipeAt(1).Signal);
        Assert.Empty(loaded.RecipeProblems());
        Assert.Null(old.Recipes);
        Assert.Equal(SignalRecipe.Default.Key, old.RecipeAt(1).Key);
        Assert.Empty(old.RecipeProblems());
    }

    [Fact]
    public void A_policy_whose_recipes_do_not_fit_its_chain_says_so()
    {
        var artifact = new PolicyArtifact(["a", "b"], [0.8], "calibrated", null, "configured", null, null, null) { Recipes = [SignalRecipe.Single("loudness")] };

        Assert.Equal(["recipes: needs one per stage of the chain (2); got 1.", $"recipes:0: {SignalRecipe.Single("loudness").Problems()[0]}"], artifact.RecipeProblems());
    }

    [Fact]
    public void A_recipes_score_maps_its_signal_to_a_probability_like_number()
    {
        Assert.Equal(Math.Exp(-0.3), RecipeScore.OfSignal(SignalNames.MeanLogprob, -0.3), Tolerance);
        Assert.Equal(3 / 4.0, RecipeScore.OfSignal(SignalNames.BottomGroupConfidence, 3), Tolerance);
        Assert.Equal(Math.Exp(-0.5), RecipeScore.OfSignal(SignalNames.AnswerEntropy, 0.5), Tolerance);
        Assert.Equal(0.42, RecipeScore.OfSignal(SignalNames.PTrue, 0.42), Tolerance);
        Assert.True(double.IsNaN(RecipeScore.OfSignal(SignalNames.PTrue, double.NaN)));
        Assert.True(double.IsNaN(RecipeScore.Of(SignalRecipe.Single(SignalNames.PTrue), new Dictionary<string, double>())));
    }

    [Fact]
    public void A_fused_score_is_the_logistic_of_the_weighted_logits_with_a_missing_input_least_confident()
    {
        var recipe = SignalRecipe.Fuse([SignalNames.MeanLogprob, SignalNames.PTrue], [0.5, 2, -1]);
        var signals = new Dictionary<string, double> { [SignalNames.MeanLogprob] = Math.Log(0.8) };

        var score = RecipeScore.Of(recipe, signals);

        Assert.Equal(Calibrator.Sigmoid(0.5 + (2 * Calibrator.Logit(0.8)) - Calibrator.Logit(0)), score, Tolerance);
    }

    [Fact]
    public void From_what_was_gathered_the_recipe_reads_its_signal()
    {
        var tokens = new AttemptTokens(["Answer", ":", " B", " (", "simulated"], [0, 0, -0.4, -0.2, -0.1], [[], [], [(" B", -0.4), (" C", -1.5)], [], []]);
        var attempt = new GatheredAttempt(tokens, "Answer: B (simulated")
        {
            SelfVerification = (Math.Log(0.6), Math.Log(0.2)),
            DoYouKnowYes = Math.Log(0.3),
            Samples = ["Answer: B (simulated answer from", "Answer: C", "Answer: B.", "B) Mars"],
        };
        var options = new SignalOptions { AnswerOptions = ["A", "B", "C", "D"] };

        Assert.Equal(0.75, RecipeScore.Of(SignalRecipe.Single(SignalNames.PTrue), attempt, options), Tolerance);
        Assert.Equal(0.3, RecipeScore.Of(SignalRecipe.Single(SignalNames.PIk), attempt, options), Tolerance);
        Assert.Equal(0.75, RecipeScore.Of(SignalRecipe.Single(SignalNames.Agreement, 4), attempt, options), Tolerance);
        Assert.Equal(Math.Exp(-0.7 / 5), RecipeScore.Of(SignalRecipe.Default, attempt, options), Tolerance);
        Assert.Equal(Math.Exp(-0.4) / (Math.Exp(-0.4) + Math.Exp(-1.5)), RecipeScore.Of(SignalRecipe.Single(SignalNames.AnswerOptionProbability), attempt, options), Tolerance);
    }

    [Theory]
    [InlineData("Answer: Paris", "Paris")]
    [InlineData("Answer: Leonardo da Vinci (simulated answer from the router's test fleet).", "Leonardo da Vinci")]
    [InlineData("The capital of France is Paris.\nAnswer: Paris.", "Paris")]
    [InlineData("Answer: B) Mars", "B")]
    [InlineData("Answer: 3.14", "3.14")]
    [InlineData("Mars\nbecause it is red", "Mars")]
    public void The_final_answer_is_the_answer_line_without_remarks(string reply, string expected) =>
        Assert.Equal(expected, TokenSignals.ExtractAnswer(reply));

    [Fact]
    public void Extra_call_prompts_can_be_recognised_by_whoever_answers_them()
    {
        var verification = ExtraCallPrompts.SelfVerification("What is 2+2?", "Answer: 4 (because)");

        Assert.Equal("Answer: 4 (because)", ExtraCallPrompts.ProposedAnswer(verification));
        Assert.Null(ExtraCallPrompts.ProposedAnswer(ExtraCallPrompts.DoYouKnow("What is 2+2?")));
        Assert.True(ExtraCallPrompts.IsDoYouKnow(ExtraCallPrompts.DoYouKnow("What is 2+2?")));
        Assert.False(ExtraCallPrompts.IsDoYouKnow(verification));
    }
}
