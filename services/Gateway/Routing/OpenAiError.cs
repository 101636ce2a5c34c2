using System.Text.Json.Serialization;

namespace Router.Gateway.Routing;

/// <summary>OpenAI's error body: {"error": {"message", "type", "param", "code"}}.</summary>
public sealed record OpenAiError(OpenAiErrorBody Error)
{
    public static IResult BadRequest(string message, string? param, string code = "invalid_request") =>
        Result(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static IResult NotFound(string message, string? param, string code) =>
        Result(StatusCodes.Status404NotFound, message, "invalid_request_error", param, code);

    public static IResult Result(int status, string message, string type, string? param, string code) =>
        Results.Json(new OpenAiError(new OpenAiErrorBody(message, type, param, code)), statusCode: status);
}

public sealed record OpenAiErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    string Code);
