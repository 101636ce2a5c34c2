namespace Router.Gateway.Routing;

/// <summary>A request the router could not serve, carrying the HTTP status and OpenAI error fields to answer with.</summary>
public sealed class RoutingException(int status, string type, string? param, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string Code { get; } = code;

    /// <summary>What the router did before it gave up, so the failed request is still recorded.</summary>
    public RoutingTrace? Trace { get; init; }
}
