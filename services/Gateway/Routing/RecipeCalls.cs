using System.Diagnostics;
using Grpc.Core;
using Router.Contracts;
using Router.Domain.Signals;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>
/// The model calls a stage's recipe needs besides the answer, made on the stage's worker side by
/// side: the self-verification question (P(True)), "do you know" (P(IK)) and m sampled answers
/// (self-consistency). What they return completes the attempt for scoring; each kind's calls, tokens,
/// cost and time go in the attempt's trace, and their cost into the attempt's (so into the route's,
/// its budget and the ledger). A call that fails leaves its signal undefined, which counts as the
/// least confident score: the stage escalates rather than trust an unverified answer.
/// </summary>
public sealed partial class RecipeCalls(DownstreamClients clients, ILogger<RecipeCalls> logger)
{
    /// <summary>The answer <paramref name="gathered"/> completed with what the recipe's calls returned.</summary>
    public async Task<GatheredAttempt> GatherAsync(
        SignalRecipe recipe,
        ModelDeploymentOptions model,
        GenerateRequest request,
        GatheredAttempt gathered,
        AttemptTrace attempt,
        TimeSpan deadline,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var worker = clients.Worker(model.WorkerService);
        var until = DateTime.UtcNow + deadline;
        var question = string.Join("\n", request.Messages.Select(m => m.Content));
        var verification = recipe.NeedsSelfVerification
            ? AskAsync(worker, ExtraCallPrompts.SelfVerification(question, gathered.Answer), until, cancellationToken)
            : null;
        var doYouKnow = recipe.NeedsDoYouKnow
            ? AskAsync(worker, ExtraCallPrompts.DoYouKnow(question), until, cancellationToken)
            : null;
        var samples = Enumerable.Range(0, recipe.NeedsSamples ? recipe.Samples : 0)
            .Select(j => SampleAsync(worker, SampleRequest(request, recipe, j), until, cancellationToken))
            .ToList();
        await Task.WhenAll([.. new[] { verification, doYouKnow }.OfType<Task>(), .. samples]);

        var price = WorkerStage.Price(model);
        var failures = new List<string>();
        if (verification is not null)
        {
            var (yesNo, call) = Outcome(await verification, ExtraCallKinds.SelfVerification, failures);
            gathered = gathered with { SelfVerification = yesNo };
            Add(attempt, ExtraCallUsage.Of(ExtraCallKinds.SelfVerification, call, price, concurrent: true));
        }

        if (doYouKnow is not null)
        {
            var (yesNo, call) = Outcome(await doYouKnow, ExtraCallKinds.DoYouKnow, failures);
            gathered = gathered with { DoYouKnowYes = yesNo?.Yes };
            Add(attempt, ExtraCallUsage.Of(ExtraCallKinds.DoYouKnow, call, price, concurrent: true));
        }

        if (samples.Count > 0)
        {
            var answered = await Task.WhenAll(samples);
            failures.AddRange(answered.Where(s => s.Error is not null).Select(s => $"{ExtraCallKinds.Sample}: {s.Error}"));

            // Self-consistency over the samples that came back; agreement is undefined when none did.
            var texts = answered.Where(s => s.Error is null).Select(s => s.Value!).ToList();
            gathered = gathered with { Samples = texts.Count == recipe.Samples ? texts : [] };
            Add(attempt, ExtraCallUsage.Of(ExtraCallKinds.Sample, [.. answered.Where(s => s.Error is null).Select(s => s.Call)], price, concurrent: true));
        }

        attempt.LatencyMs += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (failures.Count > 0)
        {
            attempt.ReasonText = $"the recipe's calls failed ({string.Join("; ", failures)}); their signal counts as the least confident";
            LogCallsFailed(logger, model.Name, recipe.Key, string.Join("; ", failures));
        }

        return gathered;
    }

    private static void Add(AttemptTrace attempt, ExtraCallUsage usage)
    {
        attempt.ExtraCalls.Add(usage);
        attempt.CostUsd += usage.CostUsd;
    }

    private static ((double Yes, double No)? YesNo, IReadOnlyList<ExtraCall> Call) Outcome(Answer<(double Yes, double No)> asked, string kind, List<string> failures)
    {
        if (asked.Error is not null)
        {
            failures.Add($"{kind}: {asked.Error}");
            return (null, []);
        }

        return (asked.Value, [asked.Call]);
    }

    /// <summary>The answer's request at the recipe's temperature with a seed of its own; the samples' text is all that is read.</summary>
    private static GenerateRequest SampleRequest(GenerateRequest request, SignalRecipe recipe, int index)
    {
        var sample = request.Clone();
        sample.Temperature = (float)recipe.SampleTemperature;
        sample.Seed = SignalRecipe.SampleSeed(request.HasSeed ? request.Seed : null, request.RequestId, index);
        sample.RequestId = $"{request.RequestId}/sample-{index}";
        return sample;
    }

    private static Task<Answer<(double Yes, double No)>> AskAsync(Inference.InferenceClient worker, string prompt, DateTime deadline, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var score = await worker.ScoreAsync(new ScoreRequest { Prompt = prompt, Candidates = { ExtraCallPrompts.YesNo } }, deadline: deadline, cancellationToken: cancellationToken);
            return ((score.Candidates[0].Logprob, score.Candidates[1].Logprob), score.Usage);
        });

    private static Task<Answer<string>> SampleAsync(Inference.InferenceClient worker, GenerateRequest request, DateTime deadline, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var response = await worker.GenerateAsync(request, deadline: deadline, cancellationToken: cancellationToken);
            return (response.Text, response.Usage);
        });

    private static async Task<Answer<T>> CallAsync<T>(Func<Task<(T Value, TokenUsage? Usage)>> call)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var (value, usage) = await call();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return new Answer<T>(value, new ExtraCall(usage?.PromptTokens ?? 0, usage?.CompletionTokens ?? 0, elapsed), null);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            return new Answer<T>(default, default, $"{e.StatusCode}: {e.Status.Detail}");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recipe {Recipe} of {Model}: extra calls failed ({Failures}); the stage counts as unsure")]
    private static partial void LogCallsFailed(ILogger logger, string model, string recipe, string failures);

    private sealed record Answer<T>(T? Value, ExtraCall Call, string? Error);
}
