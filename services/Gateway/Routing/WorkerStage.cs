using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Costs;
using Router.Domain.Routing;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>
/// Runs one stage on its model's worker: skipped at once while the worker's circuit is open, a unary
/// call, or the streaming call when the answer streams live to the client, within the stage's
/// deadline. It fills the attempt (answer, tokens, cost, latency) and reports a failure in the
/// engine's terms: what kind, whether it timed out, whether the client had already seen output.
/// </summary>
public sealed partial class WorkerStage(
    DownstreamClients clients,
    WorkerCircuits circuits,
    IOptionsMonitor<RoutingOptions> routing,
    ILogger<WorkerStage> logger)
{
    public async Task<(GenerateResponse? Response, StageOutcome? Ended)> RunAsync(
        StageCall call,
        ModelDeploymentOptions model,
        GenerateRequest request,
        AttemptTrace attempt,
        IAnswerSink? liveSink,
        CancellationToken cancellationToken)
    {
        var service = model.WorkerService;
        if (circuits.Refusal(service) is { } refusal)
        {
            attempt.Error = $"{service}: {refusal}";
            return (null, new StageFailed(StageReason.CircuitOpen));
        }

        var started = Stopwatch.GetTimestamp();
        var watch = call.Abort.IsNone ? null : new DraftWatch(call.Abort);
        var stream = liveSink is null && watch is null ? null : new StageStream(liveSink, watch, model.Name);
        try
        {
            var deadline = DateTime.UtcNow + call.Deadline;
            var client = clients.Worker(service);
            var response = stream is null
                ? await client.GenerateAsync(request, deadline: deadline, cancellationToken: cancellationToken)
                : await stream.ReadAsync(client.GenerateStream(request, deadline: deadline, cancellationToken: cancellationToken), cancellationToken);
            attempt.Text = response.Text;
            attempt.PromptTokens = response.Usage?.PromptTokens ?? (stream?.Aborted is null ? 0 : EstimatedPromptTokens(request));
            attempt.CompletionTokens = response.Usage?.CompletionTokens ?? response.Tokens.Count;
            // Added, not set: a recipe read before the answer (P(IK)) may already have paid for its question.
            attempt.CostUsd += Price(model).Cost(attempt.PromptTokens, attempt.CompletionTokens);
            attempt.FinishReason = response.FinishReason;
            attempt.Simulated = response.Simulated;
            circuits.Succeeded(service);
            if (stream?.Aborted is { } aborted)
            {
                (attempt.AbortGroupConfidence, attempt.AbortedAtToken) = (aborted.GroupConfidence, aborted.Position);
                attempt.ReasonText = $"group confidence {aborted.GroupConfidence:0.###} fell below the abort threshold {call.Abort.Threshold:0.###} at token {aborted.Position}; the draft was cancelled";
                return (null, aborted);
            }

            return (response, null);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            attempt.Error = $"{service} {e.StatusCode}: {e.Status.Detail}";
            var timedOut = e.StatusCode == StatusCode.DeadlineExceeded;

            // A deadline the caller's own latency budget shortened says nothing about the worker.
            if (WorkerCircuits.IsWorkerFault(e.StatusCode) && (!timedOut || call.Deadline >= routing.CurrentValue.StageTimeout))
            {
                circuits.Failed(service, attempt.Error);
            }

            LogStageFailure(logger, model.Name, e.StatusCode, e.Status.Detail);
            var reason = ErrorTrailers.ReasonOf(e) == ErrorTrailers.ContextLengthExceeded ? StageReason.ContextLengthExceeded : StageReason.StageFailed;
            return (null, new StageFailed(reason, timedOut, stream?.Begun ?? false));
        }
        finally
        {
            attempt.LatencyMs += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }

    public static TokenPrice Price(ModelDeploymentOptions model) =>
        new(model.InputUsdPerMillionTokens ?? 0, model.OutputUsdPerMillionTokens ?? 0);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stage {Model} failed with {Status}: {Detail}; failing over")]
    private static partial void LogStageFailure(ILogger logger, string model, StatusCode status, string detail);

    /// <summary>
    /// The prompt tokens of a draft cancelled before the worker reported usage (it does so with
    /// the last chunk): about four characters a token, as the workers estimate it too.
    /// </summary>
    private static int EstimatedPromptTokens(GenerateRequest request) =>
        Math.Max(1, (request.Messages.Sum(m => m.Content.Length) + request.Prompt.Length + 3) / 4);

    /// <summary>
    /// A stage's answer read from the worker's stream and gathered into one response: passed on to
    /// the client chunk by chunk as it arrives (the last stage, when the client streams), or
    /// watched token by token (a draft with an abort rule), in which case the call is cancelled,
    /// and with it the worker's backend request, as soon as the watch fires.
    /// </summary>
    private sealed class StageStream(IAnswerSink? sink, DraftWatch? watch, string model)
    {
        private readonly double[] _alternatives = new double[Math.Max(1, watch?.TopLogprobs ?? 1)];

        /// <summary>True once the client has received part of the answer, which then cannot be replaced.</summary>
        public bool Begun { get; private set; }

        /// <summary>Set when the watch cancelled the draft: the response then holds the tokens generated until then.</summary>
        public StageAborted? Aborted { get; private set; }

        public async Task<GenerateResponse> ReadAsync(AsyncServerStreamingCall<GenerateChunk> call, CancellationToken cancellationToken)
        {
            // Disposing the call cancels it when it has not completed: that is how a draft is aborted.
            using (call)
            {
                var response = new GenerateResponse { Model = model };
                var text = new System.Text.StringBuilder();
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    if (sink is not null)
                    {
                        await PassOnAsync(sink, chunk, cancellationToken);
                    }

                    text.Append(chunk.Text);
                    response.Tokens.Add(chunk.Tokens);
                    response.Simulated |= chunk.Simulated;
                    if (chunk.FinishReason.Length > 0)
                    {
                        (response.FinishReason, response.Usage, response.Latency) = (chunk.FinishReason, chunk.Usage, chunk.Latency);
                    }

                    if (watch is not null && (Aborted = Watch(watch, chunk)) is not null)
                    {
                        response.FinishReason = "aborted";
                        break;
                    }
                }

                response.Text = text.ToString();
                return response;
            }
        }

        private async Task PassOnAsync(IAnswerSink client, GenerateChunk chunk, CancellationToken cancellationToken)
        {
            if (!Begun)
            {
                Begun = true;
                await client.BeginAsync(model, cancellationToken);
            }

            if (chunk.Text.Length > 0 || chunk.Tokens.Count > 0)
            {
                await client.WriteAsync(chunk.Text, chunk.Tokens, cancellationToken);
            }
        }

        private StageAborted? Watch(DraftWatch draft, GenerateChunk chunk)
        {
            foreach (var token in chunk.Tokens)
            {
                var k = Math.Min(token.TopLogprobs.Count, _alternatives.Length);
                for (var j = 0; j < k; j++)
                {
                    _alternatives[j] = token.TopLogprobs[j].Logprob;
                }

                if (draft.Observe(token.Logprob, _alternatives.AsSpan(0, k)) is { } aborted)
                {
                    return aborted;
                }
            }

            return null;
        }
    }
}
