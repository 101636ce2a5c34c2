using System.Net;
using Grpc.Core;
using Router.Contracts;

namespace Router.InferenceWorker.Backends;

/// <summary>How a backend's HTTP failure becomes a gRPC status, with a message naming the backend and the cause.</summary>
public static class BackendErrors
{
    public static RpcException Status(string backend, Uri? endpoint, StatusCode code, string cause) =>
        new(new Status(code, $"{backend} backend at {endpoint} {cause}"));

    /// <summary>The prompt does not fit the context window: InvalidArgument with a trailer the Gateway turns into 400 context_length_exceeded.</summary>
    public static RpcException ContextLengthExceeded(string detail) =>
        new(new Status(StatusCode.InvalidArgument, detail), ErrorTrailers.For(ErrorTrailers.ContextLengthExceeded));

    public static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    public static RpcException FromHttp(string backend, Uri? endpoint, string model, HttpStatusCode status, string detail) => status switch
    {
        HttpStatusCode.TooManyRequests => Status(backend, endpoint, StatusCode.ResourceExhausted, $"is rate limiting (429): {detail}"),
        HttpStatusCode.BadRequest when detail.Contains("context length", StringComparison.OrdinalIgnoreCase) || detail.Contains("maximum context", StringComparison.OrdinalIgnoreCase) || detail.Contains("context_length", StringComparison.OrdinalIgnoreCase)
            => ContextLengthExceeded($"{backend} backend at {endpoint} rejected the prompt as longer than the model's context length: {detail}"),
        HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => Status(backend, endpoint, StatusCode.InvalidArgument, $"rejected the request ({(int)status}): {detail}"),
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => Status(backend, endpoint, StatusCode.PermissionDenied, $"refused the credentials ({(int)status}); check Worker:ApiKey: {detail}"),
        HttpStatusCode.NotFound => Status(backend, endpoint, StatusCode.NotFound, $"does not serve model '{model}' (404); check Worker:BackendModel: {detail}"),
        _ when (int)status >= 500 => Status(backend, endpoint, StatusCode.Unavailable, $"failed with {(int)status}: {detail}"),
        _ => Status(backend, endpoint, StatusCode.Internal, $"answered {(int)status}: {detail}"),
    };
}
