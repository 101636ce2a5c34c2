using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Router.Contracts;
using Router.Domain.Policies;
using Router.Domain.Routing;
using Router.Gateway.Access;
using Router.Gateway.Portfolio;
using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

/// <summary>The OpenAI-compatible entry point, and /v1/route which returns what the router did instead of only the answer.</summary>
public static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Routing");
        api.MapPost("/chat/completions", CreateChatCompletionAsync).WithName("CreateChatCompletion");
        api.MapPost("/route", RouteAsync).WithName("Route");
        return app;
    }

    /// <summary>
    /// A request id that sorts by time (a version 7 UUID: milliseconds, then random bits), so the
    /// ledger's indexes take each new request at their end instead of at a random page: half the
    /// database's CPU per request with a large table.
    /// </summary>
    internal static string NewRequestId(string prefix) => prefix + Guid.CreateVersion7().ToString("N");

    internal static async Task CreateChatCompletionAsync(HttpContext context, RoutePlanner planner, IRouteRunner router, LedgerRecorder recorder, RoutingTelemetry telemetry, IOptionsMonitor<PortfolioOptions> portfolio, IOptions<JsonOptions> json)
    {
        var serializer = json.Value.SerializerOptions;
        var (request, error) = await ReadAsync(context, portfolio.CurrentValue, serializer);
        if (request is null)
        {
            await error!.ExecuteAsync(context);
            return;
        }

        var id = NewRequestId("chatcmpl-");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            try
            {
                var outcome = await RouteAndRecordAsync(planner, router, recorder, telemetry, context, request, id, null);
                WriteHeaders(context.Response, outcome.Trace);
                await WriteJsonAsync(context, Completion(id, created, request, outcome), serializer);
            }
            catch (RoutingException e)
            {
                await Failure(context, e, id).ExecuteAsync(context);
            }

            return;
        }

        var events = new ServerSentEvents(context.Response, serializer);
        var sink = new StreamingAnswer(context.Response, events, id, created, request);
        try
        {
            var outcome = await RouteAndRecordAsync(planner, router, recorder, telemetry, context, request, id, sink);
            var usage = new UsageDto(outcome.PromptTokens, outcome.CompletionTokens, outcome.PromptTokens + outcome.CompletionTokens);
            await events.WriteAsync(
                new ChatCompletionChunk(id, "chat.completion.chunk", created, outcome.Trace.FinalModel!, [new ChunkChoice(0, new ChunkDelta(null, null), outcome.FinishReason)], usage, Summary(outcome.Trace)),
                context.RequestAborted);
            await events.CompleteAsync(context.RequestAborted);
        }
        catch (RoutingException e) when (!events.Started)
        {
            await Failure(context, e, id).ExecuteAsync(context);
        }
        catch (RoutingException e)
        {
            await events.WriteAsync(new OpenAiError(new OpenAiErrorBody(MessageOf(e, id), e.Type, e.Param, e.Code)), context.RequestAborted);
            await events.CompleteAsync(context.RequestAborted);
        }
    }

    internal static async Task RouteAsync(HttpContext context, RoutePlanner planner, IRouteRunner router, LedgerRecorder recorder, RoutingTelemetry telemetry, IOptionsMonitor<PortfolioOptions> portfolio, IOptions<JsonOptions> json)
    {
        var serializer = json.Value.SerializerOptions;
        var (request, error) = await ReadAsync(context, portfolio.CurrentValue, serializer);
        if (request is null)
        {
            await error!.ExecuteAsync(context);
            return;
        }

        if (request.Stream)
        {
            await OpenAiError.BadRequest("stream is not supported by /v1/route, which returns the whole routing trace at once; use /v1/chat/completions to stream.", "stream").ExecuteAsync(context);
            return;
        }

        var id = NewRequestId("route-");
        try
        {
            var outcome = await RouteAndRecordAsync(planner, router, recorder, telemetry, context, request, id, null);
            WriteHeaders(context.Response, outcome.Trace);
            await WriteJsonAsync(context, RouteResponse.From(outcome.Trace), serializer);
        }
        catch (RoutingException e)
        {
            await Failure(context, e, id).ExecuteAsync(context);
        }
    }

    /// <summary>The answer in one write with its length, rather than chunked as a serializer streaming into the response would send it.</summary>
    private static Task WriteJsonAsync<T>(HttpContext context, T value, JsonSerializerOptions serializer)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)serializer.GetTypeInfo(typeof(T)));
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    /// <summary>A request the router took on and could not serve: the request id is in the header and, for the router's own failures, in the message, so the ledger row can be found.</summary>
    private static IResult Failure(HttpContext context, RoutingException e, string id)
    {
        context.Response.Headers["x-router-request-id"] = id;
        return OpenAiError.Result(e.Status, MessageOf(e, id), e.Type, e.Param, e.Code);
    }

    private static string MessageOf(RoutingException e, string id) =>
        e.Status >= StatusCodes.Status500InternalServerError ? $"{e.Message} Request id: {id}." : e.Message;

    /// <summary>Routes the request and makes its ledger row durable before the answer is completed, failures included.</summary>
    private static async Task<RoutingOutcome> RouteAndRecordAsync(RoutePlanner planner, IRouteRunner router, LedgerRecorder recorder, RoutingTelemetry telemetry, HttpContext context, ValidatedChatRequest request, string id, IAnswerSink? sink)
    {
        if (recorder.IsFull)
        {
            throw LedgerRecorder.JournalFull();
        }

        var team = AccessMiddleware.CallerOf(context)?.TeamId;
        var cacheUse = ResponseCache.Parse(context.Request.Headers.CacheControl);
        var received = DateTimeOffset.UtcNow;
        try
        {
            var route = await planner.PlanAsync(request, id, context.RequestAborted);
            var outcome = await router.RunAsync(route, request, sink, cacheUse, context.RequestAborted);
            using (telemetry.Time(outcome.Trace, "ledger_journal"))
            {
                await recorder.RecordAsync(outcome.Trace, received, team, null);
            }

            return outcome;
        }
        catch (RoutingException e) when (e.Trace is not null)
        {
            await recorder.RecordAsync(e.Trace, received, team, e.Message);
            throw;
        }
    }

    private static async Task<(ValidatedChatRequest? Request, IResult? Error)> ReadAsync(HttpContext context, PortfolioOptions portfolio, JsonSerializerOptions serializer)
    {
        var (body, invalid) = await JsonBody.ReadAsync<ChatCompletionRequest>(context, serializer);
        if (body is null)
        {
            return (null, invalid);
        }

        var (request, error) = ChatRequestValidator.Validate(body, portfolio.Models.Select(m => m.Name).ToHashSet(StringComparer.Ordinal));
        if (error is not null)
        {
            return (null, error.Code == "model_not_found"
                ? OpenAiError.NotFound(error.Message, error.Param, error.Code)
                : OpenAiError.BadRequest(error.Message, error.Param, error.Code));
        }

        return (request, null);
    }

    private static ChatCompletionResponse Completion(string id, long created, ValidatedChatRequest request, RoutingOutcome outcome)
    {
        var trace = outcome.Trace;
        var logprobs = request.ReturnLogprobs ? new ChoiceLogprobs([.. outcome.Tokens.Select(t => ClientToken(t, request.ClientTopLogprobs))]) : null;
        return new ChatCompletionResponse(
            id,
            "chat.completion",
            created,
            trace.FinalModel!,
            [new ChatChoice(0, new AssistantMessage("assistant", trace.Answer ?? string.Empty), outcome.FinishReason, logprobs)],
            new UsageDto(outcome.PromptTokens, outcome.CompletionTokens, outcome.PromptTokens + outcome.CompletionTokens),
            Summary(trace));
    }

    internal static TokenLogprobDto ClientToken(TokenLogprob token, int topLogprobs) =>
        new(token.Token, token.Logprob, [.. token.TopLogprobs.Take(topLogprobs).Select(a => new TopLogprobDto(a.Token, a.Logprob))]);

    internal static RoutingSummary Summary(RoutingTrace trace)
    {
        var accepted = trace.Accepted;
        return new RoutingSummary(
            trace.RequestId,
            trace.Policy,
            trace.PolicyVersion,
            trace.Mode.Wire(),
            trace.FinalModel ?? string.Empty,
            [.. trace.Attempts.Select(a => a.Model)],
            accepted?.Confidence,
            [.. trace.Attempts.Where(a => a.Decision == PolicyDecision.Escalate).Select(a => $"{a.Model}: {a.Reason?.Wire()}")],
            trace.CostUsd,
            trace.CounterfactualCostUsd,
            trace.CounterfactualCostUsd - trace.CostUsd,
            trace.Simulated);
    }

    private static void WriteHeaders(HttpResponse response, RoutingTrace trace)
    {
        var headers = response.Headers;
        headers["x-router-request-id"] = trace.RequestId;
        headers["x-router-model"] = trace.FinalModel;
        headers["x-router-policy"] = $"{trace.Policy}@{trace.PolicyVersion}";
        headers["x-router-mode"] = trace.Mode.Wire();
        headers["x-router-stages"] = string.Join(",", trace.Attempts.Select(a => a.Model));
        headers["x-router-escalations"] = string.Join(",", trace.Attempts.Where(a => a.Decision == PolicyDecision.Escalate).Select(a => a.Reason?.Wire()));
        headers["x-router-cost-usd"] = trace.CostUsd.ToString(CultureInfo.InvariantCulture);
        headers["x-router-counterfactual-cost-usd"] = trace.CounterfactualCostUsd.ToString(CultureInfo.InvariantCulture);
        if (trace.Accepted?.Confidence is { } confidence)
        {
            headers["x-router-confidence"] = confidence.ToString("0.####", CultureInfo.InvariantCulture);
        }

        if (trace.Simulated)
        {
            headers["x-router-simulated"] = "true";
        }

        if (trace.Cache is { } cache)
        {
            headers["x-router-cache"] = cache;
        }
    }

    /// <summary>Streams the chosen model's answer as OpenAI chunks; the first one carries the assistant role.</summary>
    private sealed class StreamingAnswer(HttpResponse response, ServerSentEvents events, string id, long created, ValidatedChatRequest request) : IAnswerSink
    {
        private string _model = string.Empty;

        public async Task BeginAsync(string model, CancellationToken cancellationToken)
        {
            _model = model;
            response.Headers["x-router-model"] = model;
            await events.WriteAsync(Chunk(new ChunkDelta("assistant", string.Empty)), cancellationToken);
        }

        public Task WriteAsync(string text, IReadOnlyList<TokenLogprob> tokens, CancellationToken cancellationToken) =>
            events.WriteAsync(
                Chunk(new ChunkDelta(null, text), request.ReturnLogprobs ? new ChoiceLogprobs([.. tokens.Select(t => ClientToken(t, request.ClientTopLogprobs))]) : null),
                cancellationToken);

        private ChatCompletionChunk Chunk(ChunkDelta delta, ChoiceLogprobs? logprobs = null) =>
            new(id, "chat.completion.chunk", created, _model, [new ChunkChoice(0, delta, null, logprobs)]);
    }
}
