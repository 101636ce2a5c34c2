using System.Globalization;
using System.Text.Json;
using Router.Domain.Classification;
using Router.OnnxModels;
using Router.Testing;
using Xunit;

namespace Router.ClassifierService.Tests;

/// <summary>`router classifier eval MODEL.onnx FILE`, run as the real CLI process on files in both layouts.</summary>
public sealed class ClassifierEvalCommandTests
{
    private static readonly string CommittedModel = Path.Combine(AppContext.BaseDirectory, DefaultPortfolioModelTests.RelativePath);

    [Fact]
    public async Task On_an_llmrouter_file_it_prints_the_auroc_the_trainer_measured_on_the_same_queries()
    {
        var (result, onnx, queries) = ClassifierServiceTests.Trained.Value;
        var directory = Directory.CreateDirectory(Path.Combine(TestState.Directory, $"classifier-eval-{Guid.NewGuid():N}")).FullName;
        var model = Path.Combine(directory, "pre-call.onnx");
        var file = Path.Combine(directory, "held-out.json");
        await File.WriteAllBytesAsync(model, onnx);
        var (_, test) = ClassifierTraining.Split(queries.Count, 0.25, 3);
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(test.Select(i => new { question = queries[i].Question, scores = queries[i].Scores })));

        var (exitCode, output) = await RouterCli.RunAsync("classifier", "eval", model, file);

        Assert.True(exitCode == 0, output);
        var printed = AurocRows(output);
        Assert.Equal(result.HeldOutAuroc.Keys.Order(StringComparer.Ordinal), printed.Keys.Order(StringComparer.Ordinal));
        Assert.All(result.HeldOutAuroc, a => Assert.Equal(a.Value, printed[a.Key], 0.0015));
        Assert.Contains($"over {test.Length:N0} queries", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_the_cascade_traces_folder_with_the_training_split_it_prints_the_committed_held_out_auroc()
    {
        using var classifier = new OnnxClassifier(await File.ReadAllBytesAsync(CommittedModel));
        var provenance = classifier.Provenance!;

        var (exitCode, output) = await RouterCli.RunAsync(
            "classifier", "eval", CommittedModel, Path.Combine(SharedData.Directory, "cascade-traces"),
            "--holdout", provenance.Holdout.ToString(CultureInfo.InvariantCulture), "--seed", provenance.Seed.ToString(CultureInfo.InvariantCulture));

        Assert.True(exitCode == 0, output);
        var printed = AurocRows(output);
        Assert.Equal(provenance.HeldOutAuroc.Count, printed.Count);
        Assert.All(provenance.HeldOutAuroc, a => Assert.Equal(a.Value, printed[a.Key], 0.0015));
    }

    [Fact]
    public async Task Aliases_judge_a_model_on_another_files_names_and_bad_files_are_refused_in_one_line()
    {
        var llmrouter = SharedData.PathOf("llmrouter/train.json");

        var (judged, output) = await RouterCli.RunAsync("classifier", "eval", CommittedModel, llmrouter, "--alias", "llama3.1-8b=llama-3.1-8b-instruct");
        var (refused, message) = await RouterCli.RunAsync("classifier", "eval", CommittedModel, llmrouter);
        var (missing, missingMessage) = await RouterCli.RunAsync("classifier", "eval", CommittedModel, Path.Combine(TestState.Directory, "no-such-folder"));

        Assert.True(judged == 0, output);
        var row = Assert.Single(AurocRows(output));
        Assert.Equal("llama3.1-8b", row.Key);
        Assert.InRange(row.Value, 0, 1);
        Assert.Contains("llama-3.1-8b-instruct", output, StringComparison.Ordinal);
        Assert.Contains("not in the file: gpt-4o, llama3.1-70b", output, StringComparison.Ordinal);
        Assert.Equal(2, refused);
        Assert.Contains("scores none of the classifier's models", message, StringComparison.Ordinal);
        Assert.Equal(2, missing);
        Assert.Contains("No such file or folder", missingMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Router.", missingMessage, StringComparison.Ordinal);
    }

    /// <summary>model -> AUROC from the printed table (the last column of each row naming a model).</summary>
    private static Dictionary<string, double> AurocRows(string output) =>
        output.Split('\n')
            .Select(line => line.Split('│', '|').Select(cell => cell.Trim()).Where(cell => cell.Length > 0).ToArray())
            .Where(cells => cells.Length >= 5 && double.TryParse(cells[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .ToDictionary(cells => cells[0], cells => double.Parse(cells[^1], CultureInfo.InvariantCulture));
}
