namespace Router.Contracts;

/// <summary>
/// Sizes that must agree from the client's HTTP request to every gRPC hop that carries the prompt.
/// The Gateway refuses a request body over <see cref="MaxRequestBodyBytes"/> with 413; every
/// message a request that fits can produce (the prompt to a worker or the Classifier; prompt,
/// answer and per-token log-probs to Scoring) stays under <see cref="MaxGrpcMessageBytes"/>,
/// which both the Gateway's channels and the services accept.
/// </summary>
public static class MessageLimits
{
    /// <summary>4 MiB: several times the largest context window of the portfolio, even with every character JSON-escaped.</summary>
    public const int MaxRequestBodyBytes = 4 * 1024 * 1024;

    /// <summary>
    /// 32 MiB: a full body's prompt plus the longest answer (32,768 tokens with 20 alternatives each,
    /// about 12 MB in protobuf).
    /// </summary>
    public const int MaxGrpcMessageBytes = 32 * 1024 * 1024;

    /// <summary>Lets a gRPC service receive and send messages up to <see cref="MaxGrpcMessageBytes"/>.</summary>
    public static void ApplyMessageLimits(this Grpc.AspNetCore.Server.GrpcServiceOptions options)
    {
        options.MaxReceiveMessageSize = MaxGrpcMessageBytes;
        options.MaxSendMessageSize = MaxGrpcMessageBytes;
    }

    /// <summary>Lets a gRPC client send and receive messages up to <see cref="MaxGrpcMessageBytes"/>.</summary>
    public static void ApplyMessageLimits(this Grpc.Net.Client.GrpcChannelOptions options)
    {
        options.MaxReceiveMessageSize = MaxGrpcMessageBytes;
        options.MaxSendMessageSize = MaxGrpcMessageBytes;
    }
}
