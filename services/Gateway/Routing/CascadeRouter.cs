using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Costs;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Routing;

/// <summary>The answer the router settled on, with everything it did to get there.</summary>
public sealed record RoutingOutcome(RoutingTrace Trace, IReadOnlyList<TokenLogprob> Tokens, string FinishReason, int PromptTokens, int CompletionTokens, bool Streamed);

/// <summary>
/// Runs one request through the chain: asks the Classifier where to start (pre-call, hybrid), then
/// for each stage asks the model's InferenceWorker for an answer with log-probs, Scoring for its
/// calibrated confidence and Policy whether to accept it. Control services that fail degrade the
/// route (start at the cheapest, raw confidence, escalate) instead of failing the request; a
/// worker that fails makes the router fail over to the next stage.
/// </summary>
public sealed partial class CascadeRouter(
    DownstreamClients clients,
    PolicyDescriptions policies,
    ResponseCache responseCache,
    WorkerCircuits circuits,
    IOptionsMonitor<PortfolioOptions> portfolio,
    IOptionsMonitor<RoutingOptions> routing,
    ILogger<CascadeRouter> logger)
{
    public const string ScoringService = ServiceNames.Scoring;
    public const string PolicyService = ServiceNames.Policy;
    public const string ClassifierService = ServiceNames.Classifier;

    public async Task<RoutingOutcome> RouteAsync(ValidatedChatRequest request, string requestId, IAnswerSink? sink, CacheUse cacheUse, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var models = portfolio.CurrentValue.Models.OrderBy(m => m.Tier).ToList();
        var messages = request.Messages.Select(m => new ChatMessage { Role = m.Role, Content = m.Content }).ToList();
        var trace = await PlanAsync(request, requestId, models, cancellationToken);
        try
        {
            return await RunAsync(request, requestId, sink, cacheUse, started, models, messages, trace, cancellationToken);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException)
        {
            // The client went away: the stages already tried may have been paid for, so the trace
            // goes to the ledger as a failed request rather than vanishing with the connection.
            trace.LatencyMs = Elapsed(started);
            foreach (var attempt in trace.Attempts.Where(a => a.Decision is null))
            {
                attempt.Error ??= "cancelled: the client disconnected while this stage ran";
                (attempt.Decision, attempt.Reason) = ("stop", "client_disconnected");
            }

            throw new RoutingException(ClientClosedRequest, "api_error", null, "client_disconnected", "The client disconnected before the answer was complete; the stages already tried are recorded.")
            {
                Trace = trace,
            };
        }
    }

    /// <summary>The status nginx and others log for a request whose client closed the connection first.</summary>
    public const int ClientClosedRequest = 499;

    private async Task<RoutingOutcome> RunAsync(
        ValidatedChatRequest request,
        string requestId,
        IAnswerSink? sink,
        CacheUse cacheUse,
        long started,
        List<ModelDeploymentOptions> models,
        List<ChatMessage> messages,
        RoutingTrace trace,
        CancellationToken cancellationToken)
    {
        var cacheKey = responseCache.KeyFor(request, trace, cacheUse);
        if (cacheKey is not null)
        {
            var looking = Stopwatch.GetTimestamp();
            var cached = cacheUse == CacheUse.Use ? await responseCache.GetAsync(cacheKey) : null;
            trace.AddHop("response_cache", looking);
            trace.Cache = cached is null ? (cacheUse == CacheUse.Use ? "miss" : "refresh") : "hit";
            if (cached is not null)
            {
                return await AnswerFromCacheAsync(trace, cached, models, sink, started, cancellationToken);
            }
        }

        var stages = await StartStagesAsync(request, trace, cancellationToken);

        var responses = new Dictionary<AttemptTrace, GenerateResponse>();
        GenerateResponse? final = null;
        var streamed = false;
        for (var i = 0; i < stages.Count; i++)
        {
            var model = Deployment(models, stages[i]);
            var isLast = i == stages.Count - 1;
            var attempt = new AttemptTrace { Stage = trace.Chain.ToList().IndexOf(model.Name), Model = model.Name };
            trace.Attempts.Add(attempt);

            if (circuits.Refusal(model.WorkerService) is { } refusal)
            {
                attempt.Error = $"{model.WorkerService}: {refusal}";
                (attempt.Decision, attempt.Reason, attempt.ReasonText) = (isLast ? "stop" : "escalate", "circuit_open", attempt.Error);
                continue;
            }

            var liveStream = sink is not null && isLast;
            var generating = Stopwatch.GetTimestamp();
            var response = await GenerateAsync(model, messages, request, requestId, attempt, liveStream ? sink : null, Elapsed(started), cancellationToken);
            trace.AddHop("worker", generating);
            if (response is null)
            {
                attempt.Decision = isLast ? "stop" : "escalate";
                attempt.Reason ??= "stage_failed";
                attempt.ReasonText = attempt.Error;
                continue;
            }

            streamed = liveStream;
            responses[attempt] = response;
            var scoring = Stopwatch.GetTimestamp();
            await ScoreAsync(request, messages, response, attempt, cancellationToken);
            trace.AddHop("scoring", scoring);

            if (trace.Policy == DirectPolicy)
            {
                (attempt.Decision, attempt.Reason) = ("accept", "direct_model");
            }
            else if (isLast)
            {
                (attempt.Decision, attempt.Reason) = ("accept", "last_stage");
                attempt.ReasonText = "the last stage of the chain always answers";
            }
            else
            {
                var next = Deployment(models, stages[i + 1]);
                var nextCost = Price(next).Cost(attempt.PromptTokens, Math.Max(attempt.CompletionTokens, 1));
                var deciding = Stopwatch.GetTimestamp();
                await DecideAsync(request, trace, attempt, Elapsed(started), nextCost, cancellationToken);
                trace.AddHop("policy_decide", deciding);
            }

            if (attempt.Decision == "escalate")
            {
                attempt.Discarded = true;
                continue;
            }

            final = response;
            break;
        }

        trace.LatencyMs = Elapsed(started);
        if (final is null)
        {
            final = FallBackToBestDiscarded(trace, responses) ?? throw NoAnswer(trace);
        }

        var outcome = await CompleteAsync(trace, final, models, sink, streamed, cancellationToken);
        if (cacheKey is not null && trace.Notes.Count == 0 && trace.Attempts.All(a => a.Error is null))
        {
            var accepted = trace.Accepted!;
            var answer = new CachedAnswer
            {
                Response = final,
                Model = accepted.Model,
                Stage = accepted.Stage,
                Calibrated = accepted.Calibrated,
                CalibratorVersion = accepted.CalibratorVersion ?? string.Empty,
                RequestId = requestId,
                AnsweredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            };
            if (accepted.Confidence is { } confidence)
            {
                answer.Confidence = confidence;
            }

            responseCache.Store(cacheKey, answer);
        }

        return outcome;
    }

    private async Task<RoutingOutcome> CompleteAsync(RoutingTrace trace, GenerateResponse final, List<ModelDeploymentOptions> models, IAnswerSink? sink, bool streamed, CancellationToken cancellationToken)
    {
        var accepted = trace.Accepted!;
        trace.FinalModel = accepted.Model;
        trace.Answer = final.Text;
        var top = trace.Policy == DirectPolicy ? models[^1] : Deployment(models, trace.Chain[^1]);
        trace.CounterfactualCostUsd = Price(top).Cost(accepted.PromptTokens, accepted.CompletionTokens);

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

    /// <summary>A cache hit costs nothing: the one attempt is the cached answer, priced at zero, and says which request paid for it.</summary>
    private Task<RoutingOutcome> AnswerFromCacheAsync(RoutingTrace trace, CachedAnswer cached, List<ModelDeploymentOptions> models, IAnswerSink? sink, long started, CancellationToken cancellationToken)
    {
        var response = cached.Response;
        var answeredAt = DateTimeOffset.FromUnixTimeMilliseconds(cached.AnsweredAtUnixMs);
        trace.Attempts.Add(new AttemptTrace
        {
            Stage = cached.Stage,
            Model = cached.Model,
            Text = response.Text,
            PromptTokens = response.Usage?.PromptTokens ?? 0,
            CompletionTokens = response.Usage?.CompletionTokens ?? response.Tokens.Count,
            FinishReason = response.FinishReason,
            Simulated = response.Simulated,
            Confidence = cached.HasConfidence ? cached.Confidence : null,
            Calibrated = cached.Calibrated,
            CalibratorVersion = cached.CalibratorVersion.Length > 0 ? cached.CalibratorVersion : null,
            Decision = "accept",
            Reason = "response_cache",
            ReasonText = $"answered from the response cache; request {cached.RequestId} paid for this answer at {answeredAt:O}",
        });
        trace.LatencyMs = Elapsed(started);
        return CompleteAsync(trace, response, models, sink, streamed: false, cancellationToken);
    }

    /// <summary>Policy name of a request that names a model directly and skips routing.</summary>
    public const string DirectPolicy = "direct";

    private async Task<RoutingTrace> PlanAsync(ValidatedChatRequest request, string requestId, List<ModelDeploymentOptions> models, CancellationToken cancellationToken)
    {
        if (request.Target.DirectModel is { } direct)
        {
            return new RoutingTrace { RequestId = requestId, Policy = DirectPolicy, PolicyVersion = "-", Mode = "direct", Chain = [direct] };
        }

        var options = routing.CurrentValue;
        var policy = request.Target.Policy is RouteTarget.AutoPolicy or null ? options.DefaultPolicy : request.Target.Policy;
        var mode = request.Target.Mode ?? options.DefaultMode;
        var trace = new RoutingTrace { RequestId = requestId, Policy = policy, PolicyVersion = "unknown", Mode = ModeName(mode), Chain = [.. models.Select(m => m.Name)] };
        try
        {
            var asked = Stopwatch.GetTimestamp();
            var description = await policies.DescribeAsync(policy, ControlDeadline(), cancellationToken);
            trace.AddHop("policy_describe", asked);
            trace.PolicyVersion = description.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var unknown = description.Chain.Where(m => models.All(d => d.Name != m)).ToList();
            if (unknown.Count > 0)
            {
                throw new RoutingException(
                    StatusCodes.Status500InternalServerError,
                    "api_error",
                    "model",
                    "policy_misconfigured",
                    $"Policy '{policy}' v{description.Version} routes over {string.Join(", ", unknown)}, which this Gateway's portfolio does not have.");
            }

            trace.Chain = [.. description.Chain];
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            throw new RoutingException(StatusCodes.Status404NotFound, "invalid_request_error", "model", "policy_not_found", $"model names routing policy '{policy}', which does not exist: {e.Status.Detail}");
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogControlFailure(logger, PolicyService, e.StatusCode, e.Status.Detail);
            trace.Notes.Add($"policy_unavailable: routing over the whole portfolio in tier order ({e.StatusCode}: {e.Status.Detail})");
        }

        return trace;
    }

    private async Task<List<string>> StartStagesAsync(ValidatedChatRequest request, RoutingTrace trace, CancellationToken cancellationToken)
    {
        if (trace.Mode is not ("pre-call" or "hybrid"))
        {
            return trace.Policy == DirectPolicy ? [trace.Chain[0]] : [.. trace.Chain];
        }

        var start = 0;
        try
        {
            var query = string.Join("\n", request.Messages.Where(m => m.Role == "user").Select(m => m.Content));
            var asked = Stopwatch.GetTimestamp();
            var prediction = await clients.Classifier.PredictAsync(new PredictRequest { Query = query, Models = { trace.Chain } }, deadline: ControlDeadline(), cancellationToken: cancellationToken);
            trace.AddHop("classifier", asked);
            start = Math.Clamp(prediction.StartStage, 0, trace.Chain.Count - 1);
            trace.PreCall = new PreCallPrediction(
                $"{prediction.Classifier}@{prediction.ClassifierVersion}",
                prediction.Fallback,
                prediction.Fallback ? prediction.Reason : null,
                prediction.Predictions.ToDictionary(p => p.Model, p => p.PIk),
                trace.Chain[start]);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogControlFailure(logger, ClassifierService, e.StatusCode, e.Status.Detail);
            trace.Notes.Add($"classifier_unavailable: starting at the cheapest model ({e.StatusCode}: {e.Status.Detail})");
        }

        return trace.Mode == "pre-call" ? [trace.Chain[start]] : [.. trace.Chain.Skip(start)];
    }

    private async Task<GenerateResponse?> GenerateAsync(
        ModelDeploymentOptions model,
        List<ChatMessage> messages,
        ValidatedChatRequest request,
        string requestId,
        AttemptTrace attempt,
        IAnswerSink? liveSink,
        double elapsedMs,
        CancellationToken cancellationToken)
    {
        var generate = new GenerateRequest
        {
            Messages = { messages },
            MaxTokens = request.MaxTokens,
            Temperature = (float)request.Temperature,
            Stop = { request.Stop },
            TopLogprobs = request.TopLogprobs,
            RequestId = requestId,
        };
        if (request.Seed is { } seed)
        {
            generate.Seed = seed;
        }

        var stageTimeout = routing.CurrentValue.StageTimeout;
        var timeout = stageTimeout;
        if (request.MaxLatencyMs is { } budget)
        {
            timeout = TimeSpan.FromMilliseconds(Math.Max(1, Math.Min(timeout.TotalMilliseconds, budget - elapsedMs)));
        }

        var client = clients.Worker(model.WorkerService);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = liveSink is null
                ? await client.GenerateAsync(generate, deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken)
                : await StreamAsync(client, generate, model.Name, liveSink, DateTime.UtcNow + timeout, cancellationToken);
            attempt.Text = response.Text;
            attempt.PromptTokens = response.Usage?.PromptTokens ?? 0;
            attempt.CompletionTokens = response.Usage?.CompletionTokens ?? response.Tokens.Count;
            attempt.CostUsd = Price(model).Cost(attempt.PromptTokens, attempt.CompletionTokens);
            attempt.FinishReason = response.FinishReason;
            attempt.Simulated = response.Simulated;
            attempt.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            circuits.Succeeded(model.WorkerService);
            return response;
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            attempt.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            attempt.Error = $"{model.WorkerService} {e.StatusCode}: {e.Status.Detail}";
            attempt.Reason = ErrorTrailers.ReasonOf(e);

            // A deadline the caller's own latency budget shortened says nothing about the worker.
            if (WorkerCircuits.IsWorkerFault(e.StatusCode) && (e.StatusCode != StatusCode.DeadlineExceeded || timeout >= stageTimeout))
            {
                circuits.Failed(model.WorkerService, attempt.Error);
            }

            LogStageFailure(logger, model.Name, e.StatusCode, e.Status.Detail);
            return null;
        }
    }

    private static async Task<GenerateResponse> StreamAsync(Inference.InferenceClient client, GenerateRequest generate, string model, IAnswerSink sink, DateTime deadline, CancellationToken cancellationToken)
    {
        using var call = client.GenerateStream(generate, deadline: deadline, cancellationToken: cancellationToken);
        var response = new GenerateResponse { Model = model };
        var text = new System.Text.StringBuilder();
        var begun = false;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            if (!begun)
            {
                await sink.BeginAsync(model, cancellationToken);
                begun = true;
            }

            if (chunk.Text.Length > 0 || chunk.Tokens.Count > 0)
            {
                await sink.WriteAsync(chunk.Text, chunk.Tokens, cancellationToken);
            }

            text.Append(chunk.Text);
            response.Tokens.Add(chunk.Tokens);
            response.Simulated |= chunk.Simulated;
            if (chunk.Backend.Length > 0)
            {
                response.Backend = chunk.Backend;
            }

            if (chunk.FinishReason.Length > 0)
            {
                response.FinishReason = chunk.FinishReason;
                response.Usage = chunk.Usage;
                response.Latency = chunk.Latency;
            }
        }

        response.Text = text.ToString();
        return response;
    }

    private async Task ScoreAsync(ValidatedChatRequest request, List<ChatMessage> messages, GenerateResponse response, AttemptTrace attempt, CancellationToken cancellationToken)
    {
        try
        {
            var scored = await clients.Scoring.ScoreAttemptAsync(
                new ScoreAttemptRequest
                {
                    Model = attempt.Model,
                    Messages = { messages },
                    Answer = response.Text,
                    Tokens = { response.Tokens },
                    TaskFamily = request.TaskFamily ?? string.Empty,
                    Options = new SignalOptions { AnswerOptions = { request.Options } },
                },
                deadline: ControlDeadline(),
                cancellationToken: cancellationToken);
            foreach (var (name, value) in scored.Signals)
            {
                attempt.Signals[name] = value;
            }

            attempt.Confidence = scored.PCorrect;
            attempt.Calibrated = scored.Calibrated;
            attempt.CalibratorVersion = scored.Calibrated ? $"{scored.Calibrator}@{scored.CalibratorVersion}" : null;
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogControlFailure(logger, ScoringService, e.StatusCode, e.Status.Detail);
            attempt.Confidence = RawConfidence(response.Tokens);
            attempt.Calibrated = false;
            if (attempt.Confidence > 0)
            {
                attempt.Signals["mean_logprob"] = Math.Log(attempt.Confidence.Value);
            }
            attempt.ReasonText = $"scoring unavailable ({e.StatusCode}); confidence is the uncalibrated exp(mean log-prob)";
        }
    }

    /// <summary>exp(mean token log-prob), computed as the Scoring service does; 0 for an empty answer.</summary>
    private static double RawConfidence(IEnumerable<TokenLogprob> tokens) =>
        Router.Domain.Signals.TokenSignals.MeanLogprob([.. tokens.Select(t => t.Logprob)]) is var mean && double.IsNaN(mean) ? 0 : Math.Exp(mean);

    private async Task DecideAsync(ValidatedChatRequest request, RoutingTrace trace, AttemptTrace attempt, double elapsedMs, decimal nextCost, CancellationToken cancellationToken)
    {
        var limits = new RequestLimits();
        if (request.MaxCostUsd is { } maxCost)
        {
            limits.MaxCostUsd = (double)maxCost;
        }

        if (request.MaxLatencyMs is { } maxLatency)
        {
            limits.MaxLatencyMs = maxLatency;
        }

        if (request.MinConfidence is { } minConfidence)
        {
            limits.MinConfidence = minConfidence;
        }

        try
        {
            var decision = await clients.Policy.DecideAsync(
                new DecideRequest
                {
                    Policy = trace.Policy,
                    Stage = attempt.Stage,
                    Chain = { trace.Chain },
                    PCorrect = attempt.Confidence ?? 0,
                    SpentUsd = (double)trace.CostUsd,
                    ElapsedMs = elapsedMs,
                    Limits = limits,
                    NextStageCostUsd = (double)nextCost,
                },
                deadline: ControlDeadline(),
                cancellationToken: cancellationToken);
            attempt.Decision = decision.Decision switch
            {
                Decision.Accept => "accept",
                Decision.Stop => "stop",
                _ => "escalate",
            };
            attempt.Reason = decision.Reason;
            attempt.Threshold = decision.Threshold;
            trace.PolicyVersion = decision.PolicyVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
            policies.Observe(trace.Policy, decision.PolicyVersion);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            LogControlFailure(logger, PolicyService, e.StatusCode, e.Status.Detail);
            (attempt.Decision, attempt.Reason) = ("escalate", "policy_unavailable");
            attempt.ReasonText = $"policy service unavailable ({e.StatusCode}); escalating keeps the top model's accuracy";
        }
    }

    /// <summary>
    /// Why no stage answered: the caller's prompt when it fits no model's context window (400, a
    /// client mistake), else every stage's failure (502).
    /// </summary>
    private static RoutingException NoAnswer(RoutingTrace trace)
    {
        var failures = string.Join("; ", trace.Attempts.Select(a => $"{a.Model}: {a.Error ?? a.Reason}"));
        return trace.Attempts.All(a => a.Reason == ErrorTrailers.ContextLengthExceeded)
            ? new RoutingException(StatusCodes.Status400BadRequest, "invalid_request_error", "messages", ErrorTrailers.ContextLengthExceeded, $"The prompt plus max_tokens does not fit the context window of any model of the chain: {failures}.") { Trace = trace }
            : new RoutingException(StatusCodes.Status502BadGateway, "api_error", null, "all_stages_failed", $"No model could answer: {failures}.") { Trace = trace };
    }

    /// <summary>
    /// When the stages after an escalation all failed, an answer already paid for beats an error:
    /// the most confident discarded one is returned, and the trace says so.
    /// </summary>
    private static GenerateResponse? FallBackToBestDiscarded(RoutingTrace trace, Dictionary<AttemptTrace, GenerateResponse> responses)
    {
        var best = trace.Attempts.Where(a => a.Discarded && responses.ContainsKey(a)).MaxBy(a => a.Confidence ?? 0);
        if (best is null)
        {
            return null;
        }

        best.Discarded = false;
        best.Decision = "accept";
        best.Reason = "fallback_after_failure";
        best.ReasonText = "every later stage failed; returning the most confident earlier answer";
        return responses[best];
    }

    private DateTime ControlDeadline() => DateTime.UtcNow + routing.CurrentValue.ControlTimeout;

    private static ModelDeploymentOptions Deployment(List<ModelDeploymentOptions> models, string name) =>
        models.First(m => m.Name == name);

    private static TokenPrice Price(ModelDeploymentOptions model) =>
        new(model.InputUsdPerMillionTokens ?? 0, model.OutputUsdPerMillionTokens ?? 0);

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    public static string ModeName(RoutingMode mode) => mode switch
    {
        RoutingMode.PreCall => "pre-call",
        RoutingMode.Hybrid => "hybrid",
        _ => "cascade",
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stage {Model} failed with {Status}: {Detail}; failing over")]
    private static partial void LogStageFailure(ILogger logger, string model, StatusCode status, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Service} is unavailable ({Status}: {Detail}); routing degrades")]
    private static partial void LogControlFailure(ILogger logger, string service, StatusCode status, string detail);
}
