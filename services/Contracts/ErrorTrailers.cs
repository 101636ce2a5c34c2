namespace Router.Contracts;

/// <summary>
/// A machine-readable reason a service attaches to a failed gRPC call as a trailer, so callers act
/// on it without parsing the status detail (which is for people).
/// </summary>
public static class ErrorTrailers
{
    public const string Key = "router-error";

    /// <summary>The prompt plus max_tokens does not fit the model's context window: the caller's mistake, not the worker's.</summary>
    public const string ContextLengthExceeded = "context_length_exceeded";

    public static Grpc.Core.Metadata For(string reason) => new() { { Key, reason } };

    public static string? ReasonOf(Grpc.Core.RpcException exception) => exception.Trailers.GetValue(Key);
}
