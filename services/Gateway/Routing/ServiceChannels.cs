using System.Collections.Concurrent;
using Grpc.Net.Client;
using Router.Contracts;

namespace Router.Gateway.Routing;

/// <summary>
/// One long-lived gRPC channel per downstream service, addressed the Aspire way
/// (`services:&lt;name&gt;:grpc:0`): channels multiplex calls over HTTP/2, so creating one per
/// request would pay a connection set-up on every hop.
/// </summary>
public sealed class ServiceChannels(IConfiguration configuration) : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public static Uri? Address(IConfiguration configuration, string service) =>
        Uri.TryCreate(configuration[ServiceNames.GrpcAddressKey(service)], UriKind.Absolute, out var uri) ? uri : null;

    public GrpcChannel For(string service) => _channels.GetOrAdd(service, name =>
    {
        var address = Address(configuration, name)
            ?? throw new InvalidOperationException($"{ServiceNames.GrpcAddressKey(name)} is not configured: the Gateway cannot reach '{name}'.");
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                ConnectTimeout = TimeSpan.FromSeconds(5),
            },
            MaxReceiveMessageSize = MessageLimits.MaxGrpcMessageBytes,
            MaxSendMessageSize = MessageLimits.MaxGrpcMessageBytes,
        });
    });

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
