using Router.Contracts;
using Router.Domain.Policies;
using Router.Domain.Routing;

namespace Router.Gateway.Routing;

/// <summary>
/// The response cache in front of the cascade: a deterministic request answered before with the
/// same messages, limits, policy and policy version is answered from Redis at no model cost (one
/// attempt, reason response_cache, naming the request that paid); otherwise the cascade runs and an
/// answer it routed without degradation is stored. Redis is bounded by Routing:CacheTimeout and a
/// breaker, so a slow or frozen Redis costs a request at most that wait and then nothing.
/// </summary>
public sealed class ResponseCachingRouter(CascadeRouter cascade, ResponseCache cache, RoutingTelemetry telemetry, TimeProvider time) : IRouteRunner
{
    public async Task<RoutingOutcome> RunAsync(PlannedRoute route, ValidatedChatRequest request, IAnswerSink? sink, CacheUse cacheUse, CancellationToken cancellationToken)
    {
        var trace = route.Trace;
        var key = cache.KeyFor(request, trace, cacheUse);
        if (key is null)
        {
            return await cascade.RunAsync(route, request, sink, cacheUse, cancellationToken);
        }

        if (cacheUse == CacheUse.Use)
        {
            CachedAnswer? cached;
            using (telemetry.Time(trace, "response_cache"))
            {
                cached = await cache.GetAsync(key, cancellationToken);
            }

            trace.Cache = cached is null ? "miss" : "hit";
            telemetry.CacheLookup(trace.Cache);
            if (cached is not null)
            {
                return await AnswerFromCacheAsync(route, cached, sink, cancellationToken);
            }
        }
        else
        {
            trace.Cache = "refresh";
            telemetry.CacheLookup(trace.Cache);
        }

        var outcome = await cascade.RunAsync(route, request, sink, cacheUse, cancellationToken);
        if (trace.Notes.Count == 0 && trace.Attempts.All(a => a.Error is null) && trace.Accepted is { } accepted)
        {
            var answer = new CachedAnswer
            {
                Response = new GenerateResponse
                {
                    Model = accepted.Model,
                    Text = trace.Answer ?? string.Empty,
                    Tokens = { outcome.Tokens },
                    FinishReason = outcome.FinishReason,
                    Usage = new TokenUsage { PromptTokens = outcome.PromptTokens, CompletionTokens = outcome.CompletionTokens },
                    Simulated = accepted.Simulated,
                },
                Model = accepted.Model,
                Stage = accepted.Stage,
                Calibrated = accepted.Calibrated,
                CalibratorVersion = accepted.CalibratorVersion ?? string.Empty,
                RequestId = trace.RequestId,
                AnsweredAtUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            if (accepted.Confidence is { } confidence)
            {
                answer.Confidence = confidence;
            }

            cache.Store(key, answer);
        }

        return outcome;
    }

    /// <summary>A cache hit costs nothing: the one attempt is the cached answer, priced at zero, and says which request paid for it.</summary>
    private static async Task<RoutingOutcome> AnswerFromCacheAsync(PlannedRoute route, CachedAnswer cached, IAnswerSink? sink, CancellationToken cancellationToken)
    {
        var trace = route.Trace;
        var response = cached.Response;
        var answeredAt = DateTimeOffset.FromUnixTimeMilliseconds(cached.AnsweredAtUnixMs);
        var attempt = new AttemptTrace
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
            Decision = PolicyDecision.Accept,
            Reason = StageReason.ResponseCache,
            ReasonText = $"answered from the response cache; request {cached.RequestId} paid for this answer at {answeredAt:O}",
        };
        trace.Attempts.Add(attempt);
        trace.FinalModel = attempt.Model;
        trace.Answer = response.Text;
        var top = route.DirectModel is null ? route.Portfolio.First(m => m.Name == trace.Chain[^1]) : route.Portfolio[^1];
        trace.CounterfactualCostUsd = top.Price.Cost(attempt.PromptTokens, attempt.CompletionTokens);
        if (sink is not null)
        {
            await sink.BeginAsync(attempt.Model, cancellationToken);
            foreach (var token in response.Tokens)
            {
                await sink.WriteAsync(token.Token, [token], cancellationToken);
            }
        }

        return new RoutingOutcome(trace, response.Tokens, response.FinishReason, attempt.PromptTokens, attempt.CompletionTokens, Streamed: false);
    }
}
