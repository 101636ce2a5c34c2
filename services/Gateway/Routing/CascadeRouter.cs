using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Routing;
using Router.Domain.Signals;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>The answer the router settled on, with everything it did to get there.</summary>
public sealed record RoutingOutcome(RoutingTrace Trace, IReadOnlyList<TokenLogprob> Tokens, string FinishReason, int PromptTokens, int CompletionTokens, bool Streamed);

/// <summary>Runs a planned route. Implemented by the cascade itself and by the response cache in front of it.</summary>
public interface IRouteRunner
{
    Task<RoutingOutcome> RunAsync(PlannedRoute route, ValidatedChatRequest request, IAnswerSink? sink, CacheUse cacheUse, CancellationToken cancellationToken);
}

/// <summary>
/// Runs a route through <see cref="CascadeRun"/>, the pure engine that holds every rule: it asks
/// the start predictor where to begin, then calls each stage the engine names on its worker, scores
/// the answer here, and reports each outcome to the engine, which decides; the engine's result is
/// the answer (streamed to the client when it asked) or the failure of the right kind.
/// </summary>
public sealed class CascadeRouter(
    StartPredictor predictor,
    WorkerStage workers,
    RecipeCalls recipeCalls,
    AttemptScorer scorer,
    RoutingTelemetry telemetry,
    IOptionsMonitor<PortfolioOptions> portfolio,
    IOptionsMonitor<RoutingOptions> routing) : IRouteRunner
{
    /// <summary>The status nginx and others log for a request whose client closed the connection first.</summary>
    public const int ClientClosedRequest = 499;

    public async Task<RoutingOutcome> RunAsync(PlannedRoute route, ValidatedChatRequest request, IAnswerSink? sink, CacheUse cacheUse, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var trace = route.Trace;
        using var activity = RoutingTelemetry.StartRoute(trace.RequestId, trace.Policy, trace.Mode);
        var run = new CascadeRun(await PlanAsync(route, request, cancellationToken));
        var responses = new GenerateResponse?[run.Plan.Stages.Count];
        var generate = GenerateRequestOf(request, trace.RequestId);
        var live = -1;
        while (run.NextStage(Elapsed(started)) is { } call)
        {
            var model = portfolio.CurrentValue.Models.First(m => m.Name == call.Stage.Model);
            var attempt = new AttemptTrace { Stage = call.Stage.ChainIndex, Model = model.Name };
            trace.Attempts.Add(attempt);
            var liveSink = call.IsLast ? sink : null;
            live = liveSink is null ? live : call.Index;
            using var span = RoutingTelemetry.StartModelCall(model.Name, call.Stage.ChainIndex);
            StageOutcome outcome;
            try
            {
                outcome = await RunStageAsync(run, call, model, generate, attempt, liveSink, responses, trace, request, started, cancellationToken);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException)
            {
                // The client went away: the stages already tried may have been paid for, so the
                // route still ends in the ledger, as a failed request.
                attempt.Error ??= "cancelled: the client disconnected while this stage ran";
                outcome = new ClientGone();
            }

            attempt.Apply(run.Record(outcome, attempt.CostUsd, Elapsed(started)));
            telemetry.StageDone(span, attempt);
        }

        trace.LatencyMs = Elapsed(started);
        foreach (var (attempt, record) in trace.Attempts.Zip(run.Records))
        {
            attempt.Apply(record);
        }

        if (run.Result is not RouteAnswered answered)
        {
            var failure = Failure(((RouteFailed)run.Result!).Failure, trace);
            telemetry.RouteDone(activity, trace, failure.Code);
            throw failure;
        }

        try
        {
            var routed = await CompleteAsync(trace, run.Plan, responses[answered.RecordIndex]!, sink, streamed: answered.RecordIndex == live, cancellationToken);
            telemetry.RouteDone(activity, trace, "answered");
            return routed;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            throw Failure(RouteFailure.ClientDisconnected, trace);
        }
    }

    private async Task<CascadePlan> PlanAsync(PlannedRoute route, ValidatedChatRequest request, CancellationToken cancellationToken)
    {
        var stageTimeout = routing.CurrentValue.StageTimeout;
        if (route.DirectModel is { } direct)
        {
            return CascadePlanner.Direct(direct, route.Portfolio, route.Limits, stageTimeout);
        }

        int? start;
        using (telemetry.Time(route.Trace, "classifier"))
        {
            start = await predictor.PredictAsync(route.Trace, request, cancellationToken);
        }

        return CascadePlanner.Routed(route.Trace.Policy, route.Policy, route.Trace.Mode, start, route.Portfolio, route.Limits, stageTimeout);
    }

    private async Task<StageOutcome> RunStageAsync(
        CascadeRun run,
        StageCall call,
        ModelDeploymentOptions model,
        GenerateRequest generate,
        AttemptTrace attempt,
        IAnswerSink? liveSink,
        GenerateResponse?[] responses,
        RoutingTrace trace,
        ValidatedChatRequest request,
        long started,
        CancellationToken cancellationToken)
    {
        var recipe = run.Plan.RecipeFor(call);
        attempt.Recipe = recipe.Key;
        GatheredAttempt? beforeAnswer = null;
        if (recipe.BeforeAnswer && !call.IsLast)
        {
            // P(IK) is known before the answer: a stage the policy would escalate on it asks only its question.
            using (telemetry.Time(trace, "recipe_calls"))
            {
                beforeAnswer = await recipeCalls.GatherAsync(recipe, model, generate, GatheredAttempt.Unanswered, attempt, call.Deadline, cancellationToken);
            }

            scorer.Score(attempt, beforeAnswer, recipe, request.TaskFamily, request.Options);
            var questionTokens = attempt.ExtraCalls.Sum(c => c.PromptTokens);
            if (run.EscalatesBeforeAnswer(call, attempt.Confidence ?? 0, questionTokens, Elapsed(started)))
            {
                attempt.ReasonText ??= "escalated on P(IK) before answering: the model was asked only whether it knows";
                return new StageDeclined(attempt.Confidence ?? 0, questionTokens);
            }
        }

        (GenerateResponse? Response, StageOutcome? Ended) result;
        using (telemetry.Time(trace, "worker"))
        {
            result = await workers.RunAsync(call, model, generate, attempt, liveSink, cancellationToken);
        }

        if (result.Response is not { } response)
        {
            return result.Ended!;
        }

        responses[call.Index] = response;
        var gathered = new GatheredAttempt(response.Tokens.ToAttemptTokens(), response.Text);
        if (beforeAnswer is not null)
        {
            gathered = gathered with { DoYouKnowYes = beforeAnswer.DoYouKnowYes };
        }
        else if (recipe.ExtraCalls.Count > 0)
        {
            using var hop = telemetry.Time(trace, "recipe_calls");
            gathered = await recipeCalls.GatherAsync(recipe, model, generate, gathered, attempt, call.Deadline - TimeSpan.FromMilliseconds(attempt.LatencyMs), cancellationToken);
        }

        using (telemetry.Time(trace, "scoring"))
        {
            scorer.Score(attempt, gathered, recipe, request.TaskFamily, request.Options);
        }

        return new StageAnswered(attempt.Confidence ?? 0, attempt.PromptTokens, attempt.CompletionTokens);
    }

    private static async Task<RoutingOutcome> CompleteAsync(RoutingTrace trace, CascadePlan plan, GenerateResponse final, IAnswerSink? sink, bool streamed, CancellationToken cancellationToken)
    {
        var accepted = trace.Accepted!;
        trace.FinalModel = accepted.Model;
        trace.Answer = final.Text;
        trace.CounterfactualCostUsd = plan.TopModel.Price.Cost(accepted.PromptTokens, accepted.CompletionTokens);

        // An earlier stage's answer was buffered while the router decided; it is replayed now.
        if (sink is not null && !streamed)
        {
            await sink.BeginAsync(accepted.Model, cancellationToken);
            foreach (var token in final.Tokens)
            {
                await sink.WriteAsync(token.Token, [token], cancellationToken);
            }
        }

        return new RoutingOutcome(trace, final.Tokens, final.FinishReason, accepted.PromptTokens, accepted.CompletionTokens, streamed);
    }

    private static GenerateRequest GenerateRequestOf(ValidatedChatRequest request, string requestId)
    {
        var generate = new GenerateRequest
        {
            MaxTokens = request.MaxTokens,
            Temperature = (float)request.Temperature,
            Stop = { request.Stop },
            TopLogprobs = request.TopLogprobs,
            RequestId = requestId,
        };
        generate.Messages.Add(request.Messages.Select(m => new ChatMessage { Role = m.Role, Content = m.Content }));
        if (request.Seed is { } seed)
        {
            generate.Seed = seed;
        }

        return generate;
    }

    /// <summary>Why no answer can be returned, as the HTTP status and OpenAI error the client gets.</summary>
    private static RoutingException Failure(RouteFailure failure, RoutingTrace trace)
    {
        var stages = string.Join("; ", trace.Attempts.Select(a => $"{a.Model}: {a.Error ?? a.Reason?.Wire()}"));
        return failure switch
        {
            RouteFailure.ContextLengthExceeded => new RoutingException(StatusCodes.Status400BadRequest, "invalid_request_error", "messages", ErrorTrailers.ContextLengthExceeded, $"The prompt plus max_tokens does not fit the context window of any model of the chain: {stages}.") { Trace = trace },
            RouteFailure.TimedOut => new RoutingException(StatusCodes.Status504GatewayTimeout, "api_error", null, "stages_timed_out", $"No model answered in time: {stages}.") { Trace = trace },
            RouteFailure.StreamInterrupted => new RoutingException(StatusCodes.Status502BadGateway, "api_error", null, "stream_interrupted", $"The answer's stream broke after it had begun: {stages}.") { Trace = trace },
            RouteFailure.ClientDisconnected => new RoutingException(ClientClosedRequest, "api_error", null, "client_disconnected", "The client disconnected before the answer was complete; the stages already tried are recorded.") { Trace = trace },
            _ => new RoutingException(StatusCodes.Status502BadGateway, "api_error", null, "all_stages_failed", $"No model could answer: {stages}.") { Trace = trace },
        };
    }

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
