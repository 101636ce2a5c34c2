namespace Router.Gateway.Routing;

/// <summary>A request the router could not serve, carrying the HTTP status and OpenAI error fields to answer with.</summary>
public sealed class RoutingException(int status, string type, string? param, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string Code { get; } = code;

    public IResult ToResult() => OpenAiError.Result(Status, Message, Type, Param, Code);
}
