using System.Runtime.CompilerServices;
using Router.Contracts;
using Router.Contracts.Backends;
using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Router.Domain.Traces;
using SignalOptions = Router.Domain.Signals.SignalOptions;
using SignalRecipe = Router.Domain.Signals.SignalRecipe;

namespace Router.InferenceWorker.Simulation;

/// <summary>A model the recorder asks: its backend, its price, and the time a call takes (the backend's measured time when <see cref="LatencyMs"/> is null).</summary>
public sealed record RecordedModel(IInferenceBackend Backend, TokenPrice Price, Func<TokenUsage, double>? LatencyMs = null);

/// <summary>What the recorder asks for: sampled answers per attempt and their temperature, top-k alternatives, the answer's length limit.</summary>
public sealed record TraceRecordingOptions
{
    public const int MaxSamples = 99;

    public int Samples { get; init; } = 5;

    public double SampleTemperature { get; init; } = SignalRecipe.DefaultSampleTemperature;

    public int TopLogprobs { get; init; } = 5;

    public int MaxTokens { get; init; } = 64;
}

/// <summary>
/// Records multi-signal traces of labelled questions. For each question every model answers (with
/// top-k log-probs), is asked whether its answer is correct (P(True)) and whether it knows the answer
/// (P(IK)) with the prompts the Scoring service sends (<see cref="ExtraCallPrompts"/>), and samples
/// m more answers at temperature; every signal computed from that, the answer's grade and each
/// call's tokens, price and time make one <see cref="SignalTrace"/> per model. The calls are those a
/// worker serves over gRPC, so any backend can be recorded this way; <see cref="SimulatedFleet"/>
/// records the simulated one.
/// </summary>
public sealed class SignalTraceRecorder(IReadOnlyList<RecordedModel> models, TraceRecordingOptions options)
{
    public async Task<IReadOnlyList<SignalTrace>> RecordAsync(KnownQuestion question, string benchmark, string split, int queryIndex, long seed, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(seed);
        var traces = new List<SignalTrace>(models.Count);
        foreach (var model in models)
        {
            traces.Add(await RecordAsync(model, question, benchmark, split, queryIndex, seed, cancellationToken));
        }

        return traces;
    }

    private async Task<SignalTrace> RecordAsync(RecordedModel model, KnownQuestion question, string benchmark, string split, int queryIndex, long seed, CancellationToken cancellationToken)
    {
        var answer = await model.Backend.GenerateAsync(Generation(question, seed, temperature: null), cancellationToken);
        var verification = await model.Backend.ScoreAsync(new ScoreRequest { Prompt = ExtraCallPrompts.SelfVerification(question.Prompt, answer.Text), Candidates = { ExtraCallPrompts.YesNo } }, cancellationToken);
        var doYouKnow = await model.Backend.ScoreAsync(new ScoreRequest { Prompt = ExtraCallPrompts.DoYouKnow(question.Prompt), Candidates = { ExtraCallPrompts.YesNo } }, cancellationToken);
        var samples = new List<GenerateResponse>(options.Samples);
        for (var j = 0; j < options.Samples; j++)
        {
            // Negative seeds: never the seed of another query's answer.
            samples.Add(await model.Backend.GenerateAsync(Generation(question, -((seed * 100) + j + 1), (float)options.SampleTemperature), cancellationToken));
        }

        var gathered = new GatheredAttempt(answer.Tokens.ToAttemptTokens(), answer.Text)
        {
            SelfVerification = (verification.Candidates[0].Logprob, verification.Candidates[1].Logprob),
            DoYouKnowYes = doYouKnow.Candidates[0].Logprob,
            Samples = [.. samples.Select(s => s.Text)],
        };
        var signals = gathered.Signals(new SignalOptions { AnswerOptions = [.. (question.Options ?? []).Select((_, i) => ((char)('A' + i)).ToString())] });
        var extra = new Dictionary<string, ExtraCallRecord>
        {
            [ExtraCallKinds.SelfVerification] = Record(model, [(verification.Usage, verification.Latency)]),
            [ExtraCallKinds.DoYouKnow] = Record(model, [(doYouKnow.Usage, doYouKnow.Latency)]),
        };
        if (samples.Count > 0)
        {
            extra[ExtraCallKinds.Sample] = Record(model, [.. samples.Select(s => (s.Usage, s.Latency))]);
        }

        var own = Record(model, [(answer.Usage, answer.Latency)]);
        return new SignalTrace(benchmark, split, queryIndex, model.Backend.Info.Model, answer.Text, question.IsCorrect(answer.Text), own.PromptTokens, own.CompletionTokens, own.CostUsd, own.LatencyMs, signals, extra);
    }

    private GenerateRequest Generation(KnownQuestion question, long seed, float? temperature)
    {
        var request = new GenerateRequest { Messages = { new ChatMessage { Role = "user", Content = question.Prompt } }, MaxTokens = options.MaxTokens, TopLogprobs = options.TopLogprobs, Seed = seed };
        if (temperature is { } t)
        {
            request.Temperature = t;
        }

        return request;
    }

    /// <summary>Calls of one kind, one after another: their tokens, their price and their time added up.</summary>
    private static ExtraCallRecord Record(RecordedModel model, IReadOnlyList<(TokenUsage Usage, BackendLatency? Latency)> calls) =>
        ExtraCallUsage.Of(
            string.Empty,
            [.. calls.Select(c => new ExtraCall(c.Usage.PromptTokens, c.Usage.CompletionTokens, model.LatencyMs is { } modelled ? modelled(c.Usage) : c.Latency?.TotalMs ?? 0))],
            model.Price,
            concurrent: false).ToRecord();
}

/// <summary>Multi-signal traces of the simulated fleet on its question set: benchmark "simulated-mc" (multiple choice) or "simulated-qa" (open-ended).</summary>
public static class SimulatedFleet
{
    public const string MultipleChoice = "simulated-mc";
    public const string OpenEnded = "simulated-qa";

    /// <summary>
    /// <paramref name="queries"/> queries, each a question drawn at random with a seed of its own (so
    /// each is a fresh draw of the models' answers), put in the train split with probability
    /// <paramref name="trainShare"/> (for choosing recipes and calibrating) and in "test" otherwise.
    /// </summary>
    public static async IAsyncEnumerable<SignalTrace> RecordAsync(int queries, int seed, double trainShare, TraceRecordingOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(seed);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Samples, TraceRecordingOptions.MaxSamples);
        var recorder = new SignalTraceRecorder(
            [.. SimulatedModelProfile.Defaults.Select(p => new RecordedModel(
                new SimulatedBackend(new SimulatedModel(p, QuestionSet.Default), simulateLatency: false, TimeProvider.System),
                new TokenPrice((decimal)p.InputUsdPerMillionTokens, (decimal)p.OutputUsdPerMillionTokens),
                usage => p.TimeToFirstTokenMs + (p.MillisecondsPerToken * usage.CompletionTokens)))],
            options);
        var random = new Random(seed);
        var questions = QuestionSet.Default.Questions;
        for (var i = 0; i < queries; i++)
        {
            var question = questions[random.Next(questions.Count)];
            var split = random.NextDouble() < trainShare ? RecipeFitter.SelectionSplit : "test";
            var benchmark = question.IsMultipleChoice ? MultipleChoice : OpenEnded;
            foreach (var trace in await recorder.RecordAsync(question, benchmark, split, i, ((long)seed * 10_000_000) + i + 1, cancellationToken))
            {
                yield return trace;
            }
        }
    }
}
