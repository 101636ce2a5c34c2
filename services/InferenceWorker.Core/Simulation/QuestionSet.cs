using System.Text.Json;
using Router.Domain.Signals;

namespace Router.InferenceWorker.Simulation;

/// <summary>One question the simulated models know the answer to; <see cref="Difficulty"/> in [0, 1].</summary>
public sealed record KnownQuestion(string Id, string Question, IReadOnlyList<string>? Options, string Answer, double Difficulty)
{
    public bool IsMultipleChoice => Options is { Count: > 0 };

    /// <summary>The prompt a client would send for this question.</summary>
    public string Prompt => IsMultipleChoice
        ? $"{Question} {string.Join(' ', Options!.Select((o, i) => $"{(char)('A' + i)}) {o}"))}"
        : Question;

    /// <summary>Whether a reply's final answer is this question's: the option letter, or the answer text once both are normalised.</summary>
    public bool IsCorrect(string reply) => TokenSignals.NormaliseAnswer(reply) == TokenSignals.NormaliseAnswer(Answer);
}

/// <summary>The small question set (embedded, written for the simulation) whose answers the simulated fleet is graded on.</summary>
public sealed class QuestionSet
{
    private QuestionSet(IReadOnlyList<KnownQuestion> questions) => Questions = questions;

    public static QuestionSet Default { get; } = Load();

    public IReadOnlyList<KnownQuestion> Questions { get; }

    /// <summary>The known question a prompt asks, if any (the prompt contains its text).</summary>
    public KnownQuestion? Find(string prompt) =>
        Questions.FirstOrDefault(q => prompt.Contains(q.Question, StringComparison.OrdinalIgnoreCase));

    private static QuestionSet Load()
    {
        using var stream = typeof(QuestionSet).Assembly.GetManifestResourceStream("Router.InferenceWorker.Simulation.questions.json")
            ?? throw new InvalidOperationException("The simulated question set is missing from the assembly.");
        var file = JsonSerializer.Deserialize<QuestionFile>(stream, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        return new QuestionSet(file.Questions);
    }

    private sealed record QuestionFile(List<KnownQuestion> Questions);
}
