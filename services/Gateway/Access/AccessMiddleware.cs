using System.Globalization;
using Microsoft.Extensions.Options;
using Npgsql;
using Router.Gateway.Routing;

namespace Router.Gateway.Access;

/// <summary>
/// Guards the /v1 API: resolves the bearer key to its team (401 when missing, unknown or
/// revoked), enforces the per-key rate limit (429 with Retry-After) and, on the calls that spend
/// money, the team's monthly budget (402). The admin key may read (reports over every team, the
/// models) and nothing else (403). Key material never reaches logs or the ledger.
/// </summary>
public sealed class AccessMiddleware(RequestDelegate next, IOptionsMonitor<AccessOptions> options, TeamAccess teams, RateLimiter limiter)
{
    private const string CallerItem = "router.caller";

    public static Caller? CallerOf(HttpContext context) => context.Items.TryGetValue(CallerItem, out var caller) ? caller as Caller : null;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/v1") || options.CurrentValue.Mode == AccessMode.Open)
        {
            await next(context);
            return;
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await OpenAiError.Result(StatusCodes.Status401Unauthorized, "Missing API key: send 'Authorization: Bearer <key>'.", "invalid_request_error", null, "missing_api_key").ExecuteAsync(context);
            return;
        }

        var presented = header["Bearer ".Length..].Trim();
        if (options.CurrentValue.AdminKey is { Length: > 0 } adminKey && ApiKeys.SecretEquals(adminKey, presented))
        {
            if (AdminMayCall(context.Request))
            {
                await next(context);
                return;
            }

            await OpenAiError.Result(
                StatusCodes.Status403Forbidden,
                "The admin key manages teams and reads every team's reports and models; calls that route or label requests need a team's key, so that they are counted against a team.",
                "invalid_request_error",
                null,
                "admin_key_not_allowed").ExecuteAsync(context);
            return;
        }

        Caller? caller;
        try
        {
            caller = await teams.FindAsync(presented, context.RequestAborted);
        }
        catch (NpgsqlException)
        {
            await OpenAiError.Result(StatusCodes.Status503ServiceUnavailable, "API keys cannot be checked: the ledger database is unreachable. Retry shortly.", "api_error", null, "key_store_unavailable").ExecuteAsync(context);
            return;
        }

        if (caller is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await OpenAiError.Result(StatusCodes.Status401Unauthorized, "The API key is unknown or has been revoked.", "invalid_request_error", null, "invalid_api_key").ExecuteAsync(context);
            return;
        }

        if (caller.RequestsPerMinute is { } perMinute && await limiter.TryAcquireAsync(caller.KeyId, perMinute) is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await OpenAiError.Result(StatusCodes.Status429TooManyRequests, $"Rate limit of {perMinute} requests per minute reached for key {caller.KeyPrefix}...; retry after {retryAfter.TotalSeconds:0} s.", "rate_limit_error", null, "rate_limit_exceeded").ExecuteAsync(context);
            return;
        }

        if (caller.MonthlyBudgetUsd is { } budget && Spends(context.Request))
        {
            var spent = await teams.MonthSpendAsync(caller.TeamId, context.RequestAborted);
            if (spent >= budget)
            {
                await OpenAiError.Result(StatusCodes.Status402PaymentRequired, $"Team '{caller.TeamName}' has spent {spent:0.######} USD of its monthly budget of {budget:0.######} USD.", "insufficient_quota", null, "budget_exceeded").ExecuteAsync(context);
                return;
            }
        }

        context.Items[CallerItem] = caller;
        await next(context);
    }

    /// <summary>The admin key reads: every team's reports and the model list.</summary>
    private static bool AdminMayCall(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && (request.Path.StartsWithSegments("/v1/reports") || request.Path.StartsWithSegments("/v1/models"));

    private static bool Spends(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && (request.Path.StartsWithSegments("/v1/chat/completions") || request.Path.StartsWithSegments("/v1/route"));
}
