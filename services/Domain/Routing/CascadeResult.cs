namespace Router.Domain.Routing;

/// <summary>How a route ended.</summary>
public abstract record CascadeResult;

/// <summary>The answer of <paramref name="RecordIndex"/> is the route's answer.</summary>
public sealed record RouteAnswered(int RecordIndex) : CascadeResult;

/// <summary>No answer can be returned.</summary>
public sealed record RouteFailed(RouteFailure Failure) : CascadeResult;

public enum RouteFailure
{
    /// <summary>Every stage failed (502).</summary>
    AllStagesFailed,

    /// <summary>Every stage timed out, or the request's latency budget ran out before an answer (504).</summary>
    TimedOut,

    /// <summary>The prompt fits no model of the chain: the caller's mistake (400).</summary>
    ContextLengthExceeded,

    /// <summary>The live stream broke after it had begun (the stream ends with an error event).</summary>
    StreamInterrupted,

    /// <summary>The client went away (499).</summary>
    ClientDisconnected,
}
