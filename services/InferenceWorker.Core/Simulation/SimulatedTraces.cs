using Router.Domain.Traces;

namespace Router.InferenceWorker.Simulation;

/// <summary>
/// Token-level traces of the simulated fleet, on demand: every model of the list answers the same
/// queries with a long (reasoned) answer of the chosen <see cref="ConfidenceTrajectory"/>. Query j
/// is question j mod |questions| of the question set, sample j div |questions| (its own seed), so
/// any number of queries can be drawn. Cost is priced from the profile (prompt and completion
/// tokens) and time is the profile's time to first token plus its time per token.
/// </summary>
public static class SimulatedTraces
{
    public static IEnumerable<TokenTrace> Generate(IReadOnlyList<SimulatedModelProfile> models, int queries, ConfidenceTrajectory trajectory, int topLogprobs, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queries, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(topLogprobs, 0);
        var questions = QuestionSet.Default.Questions;
        var fleet = models.Select(profile => new SimulatedModel(profile, QuestionSet.Default)).ToList();
        for (var j = 0; j < queries; j++)
        {
            var question = questions[j % questions.Count];
            var sample = j / questions.Count;
            foreach (var model in fleet)
            {
                var answer = model.GenerateReasoned(question.Prompt, seed * 1_000_000L + sample, topLogprobs, trajectory);
                yield return Trace(model.Profile, question, $"{question.Id}/{sample}", answer);
            }
        }
    }

    /// <summary>Log-probs to 1e-5, which is all the precision signals need, so that a file of 1,000 queries stays tens of megabytes.</summary>
    private static double Rounded(double logprob) => Math.Round(logprob, 5);

    private static TokenTrace Trace(SimulatedModelProfile profile, KnownQuestion question, string queryId, SimulatedAnswer answer)
    {
        var completion = answer.Tokens.Count;
        return new TokenTrace(
            profile.Model,
            question.Prompt,
            answer.Text,
            [.. answer.Tokens.Select(t => new TraceToken(t.Text, Rounded(t.Logprob), [.. t.Top.Select(a => new TraceAlternative(a.Token, Rounded(a.Logprob)))]))],
            new TraceUsage(answer.PromptTokens, completion),
            profile.TimeToFirstTokenMs + profile.MillisecondsPerToken * completion,
            queryId,
            answer.Correct,
            answer.LatentConfidence,
            (answer.PromptTokens * profile.InputUsdPerMillionTokens + completion * profile.OutputUsdPerMillionTokens) / 1e6,
            profile.InputUsdPerMillionTokens,
            profile.OutputUsdPerMillionTokens,
            profile.TimeToFirstTokenMs,
            profile.MillisecondsPerToken,
            Simulated: true);
    }
}
