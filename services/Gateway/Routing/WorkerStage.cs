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
    public async Task<(GenerateResponse? Response, StageFailed? Failure)> RunAsync(
        StageCall call,
        ModelDeploymentOptions model,
        GenerateRequest request,
        AttemptTrace attempt,
        IAnswerSink? liveSink,
        CancellationToken cancellationToken)
    {
        if (circuits.Refusal(model.WorkerService) is { } refusal)
        {
            attempt.Error = $"{model.WorkerService}: {refusal}";
            return (null, new StageFailed(StageReason.CircuitOpen));
        }

        var started = Stopwatch.GetTimestamp();
        var stream = liveSink is null ? null : new LiveStream(liveSink, model.Name);
        try
        {
            var deadline = DateTime.UtcNow + call.Deadline;
            var client = clients.Worker(model.WorkerService);
            var response = stream is null
                ? await client.GenerateAsync(request, deadline: deadline, cancellationToken: cancellationToken)
                : await stream.ReadAsync(client.GenerateStream(request, deadline: deadline, cancellationToken: cancellationToken), cancellationToken);
            attempt.Text = response.Text;
            attempt.PromptTokens = response.Usage?.PromptTokens ?? 0;
            attempt.CompletionTokens = response.Usage?.CompletionTokens ?? response.Tokens.Count;
            attempt.CostUsd = Price(model).Cost(attempt.PromptTokens, attempt.CompletionTokens);
            attempt.FinishReason = response.FinishReason;
            attempt.Simulated = response.Simulated;
            circuits.Succeeded(model.WorkerService);
            return (response, null);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            attempt.Error = $"{model.WorkerService} {e.StatusCode}: {e.Status.Detail}";
            var timedOut = e.StatusCode == StatusCode.DeadlineExceeded;

            // A deadline the caller's own latency budget shortened says nothing about the worker.
            if (WorkerCircuits.IsWorkerFault(e.StatusCode) && (!timedOut || call.Deadline >= routing.CurrentValue.StageTimeout))
            {
                circuits.Failed(model.WorkerService, attempt.Error);
            }

            LogStageFailure(logger, model.Name, e.StatusCode, e.Status.Detail);
            var reason = ErrorTrailers.ReasonOf(e) == ErrorTrailers.ContextLengthExceeded ? StageReason.ContextLengthExceeded : StageReason.StageFailed;
            return (null, new StageFailed(reason, timedOut, stream?.Begun ?? false));
        }
        finally
        {
            attempt.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }

    public static TokenPrice Price(ModelDeploymentOptions model) =>
        new(model.InputUsdPerMillionTokens ?? 0, model.OutputUsdPerMillionTokens ?? 0);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stage {Model} failed with {Status}: {Detail}; failing over")]
    private static partial void LogStageFailure(ILogger logger, string model, StatusCode status, string detail);

    /// <summary>A stage's answer passed on to the client chunk by chunk as it arrives, and gathered into one response.</summary>
    private sealed class LiveStream(IAnswerSink sink, string model)
    {
        /// <summary>True once the client has received part of the answer, which then cannot be replaced.</summary>
        public bool Begun { get; private set; }

        public async Task<GenerateResponse> ReadAsync(AsyncServerStreamingCall<GenerateChunk> call, CancellationToken cancellationToken)
        {
            using (call)
            {
                var response = new GenerateResponse { Model = model };
                var text = new System.Text.StringBuilder();
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    if (!Begun)
                    {
                        Begun = true;
                        await sink.BeginAsync(model, cancellationToken);
                    }

                    if (chunk.Text.Length > 0 || chunk.Tokens.Count > 0)
                    {
                        await sink.WriteAsync(chunk.Text, chunk.Tokens, cancellationToken);
                    }

                    text.Append(chunk.Text);
                    response.Tokens.Add(chunk.Tokens);
                    response.Simulated |= chunk.Simulated;
                    if (chunk.FinishReason.Length > 0)
                    {
                        (response.FinishReason, response.Usage, response.Latency) = (chunk.FinishReason, chunk.Usage, chunk.Latency);
                    }
                }

                response.Text = text.ToString();
                return response;
            }
        }
    }
}
