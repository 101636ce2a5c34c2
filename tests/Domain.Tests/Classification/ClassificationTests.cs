using Router.Domain.Classification;
using Xunit;

namespace Router.Domain.Tests.Classification;

public sealed class ClassificationTests
{
    [Fact]
    public void Features_are_deterministic_unit_length_and_see_structure()
    {
        var featurizer = new QueryFeaturizer(256);

        var a = featurizer.Featurize("Solve 2x + 3 = 7 for x.");
        var b = new QueryFeaturizer(256).Featurize("Solve 2x + 3 = 7 for x.");

        Assert.Equal(a, b);
        Assert.Equal(256 + QueryFeaturizer.StructureFeatures, a.Length);
        Assert.Equal(1.0, Math.Sqrt(a.Take(256).Sum(f => (double)f * f)), 5);
        Assert.Equal(1, a[256 + 3]);
        Assert.Equal(0, featurizer.Featurize("What is the capital of France?")[256 + 3]);
    }

    [Fact]
    public void Training_learns_a_separable_rule_per_model()
    {
        var featurizer = new QueryFeaturizer(512);
        string[] maths = ["Compute 12 * 7", "What is 3 + 4 * 2", "Solve x^2 = 9", "Integrate x^3 dx", "What is 81 / 9"];
        string[] trivia = ["Who painted the Mona Lisa", "Capital of Peru", "Who wrote Hamlet", "Largest ocean on Earth", "Author of Dune"];
        var queries = maths.Select(q => (q, Maths: true)).Concat(trivia.Select(q => (q, Maths: false))).ToList();

        var model = PerModelLogistic.Train(
            ["calculator", "librarian"],
            [.. queries.Select(q => featurizer.Featurize(q.q))],
            [.. queries.Select(q => new[] { q.Maths, !q.Maths })],
            epochs: 60);

        var mathsQuery = model.Predict(featurizer.Featurize("Compute 15 * 3 + 2"));
        var triviaQuery = model.Predict(featurizer.Featurize("Who painted the Sistine Chapel"));
        Assert.True(mathsQuery[0] > mathsQuery[1]);
        Assert.True(triviaQuery[1] > triviaQuery[0]);
    }
}
