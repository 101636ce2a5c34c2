using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Router.Contracts;
using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

/// <summary>
/// Every error the Gateway answers is OpenAI's error JSON, in every environment: an exception no
/// handler caught becomes a 500 without a stack trace (it is logged with the trace id the message
/// names), Kestrel's refusals (413 too large, 408 too slow, 400 malformed) keep their status, and an
/// error status written without a body (unknown path, wrong method) gets one.
/// </summary>
public static class ErrorResponses
{
    public static WebApplication UseOpenAiErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = WriteExceptionAsync });
        app.UseStatusCodePages(statusContext => ForStatus(statusContext.HttpContext).ExecuteAsync(statusContext.HttpContext));
        return app;
    }

    public static IResult FromBadHttpRequest(BadHttpRequestException exception) => exception.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => OpenAiError.Result(
            StatusCodes.Status413PayloadTooLarge,
            $"The request body is larger than {MessageLimits.MaxRequestBodyBytes:N0} bytes, the most this router accepts (far more than any model's context window).",
            "invalid_request_error",
            null,
            "request_too_large"),
        StatusCodes.Status408RequestTimeout => OpenAiError.Result(
            StatusCodes.Status408RequestTimeout,
            "The request body arrived too slowly and the server stopped waiting for it; send the request again.",
            "invalid_request_error",
            null,
            "request_timeout"),
        _ => OpenAiError.Result(exception.StatusCode, "The HTTP request is malformed.", "invalid_request_error", null, "bad_request"),
    };

    /// <summary>503 for a call that needs PostgreSQL while it is unreachable; routing itself goes on without it.</summary>
    public static IResult LedgerUnavailable(string what) => OpenAiError.Result(
        StatusCodes.Status503ServiceUnavailable,
        $"{what}: the ledger database is unreachable. Retry shortly.",
        "api_error",
        null,
        "ledger_unavailable");

    private static Task WriteExceptionAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var result = error is BadHttpRequestException bad ? FromBadHttpRequest(bad) : Internal(context, StatusCodes.Status500InternalServerError);
        return result.ExecuteAsync(context);
    }

    private static IResult ForStatus(HttpContext context)
    {
        var request = context.Request;
        var status = context.Response.StatusCode;
        var call = $"{request.Method} {OpenAiError.Shown(request.Path.Value ?? "/")}";
        return status switch
        {
            StatusCodes.Status404NotFound => OpenAiError.NotFound($"Invalid URL ({call}): this router has no such endpoint.", null, "unknown_url"),
            StatusCodes.Status405MethodNotAllowed => OpenAiError.Result(status, $"Method not allowed ({call}).", "invalid_request_error", null, "method_not_allowed"),
            StatusCodes.Status415UnsupportedMediaType => OpenAiError.Result(status, "Send the body as JSON (Content-Type: application/json).", "invalid_request_error", null, "unsupported_media_type"),
            StatusCodes.Status413PayloadTooLarge or StatusCodes.Status408RequestTimeout => FromBadHttpRequest(new BadHttpRequestException(string.Empty, status)),
            >= 500 => Internal(context, status),
            _ => OpenAiError.Result(status, $"The request was refused ({status}).", "invalid_request_error", null, "bad_request"),
        };
    }

    private static IResult Internal(HttpContext context, int status) => OpenAiError.Result(
        status,
        $"The router failed to handle this request; it is logged under trace id {Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier}.",
        "api_error",
        null,
        "internal_error");
}
