using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Net.ClientFactory;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// gRPC clients of the router's services from <c>Grpc.Net.ClientFactory</c>, addressed by service
/// name through Aspire service discovery (<c>http://_grpc.&lt;service&gt;</c> resolves
/// <c>services:&lt;service&gt;:grpc:0</c>), traced by the gRPC client instrumentation.
/// </summary>
public static class GrpcClients
{
    /// <summary>Registers a client of <typeparamref name="TClient"/> named after <paramref name="service"/>.</summary>
    public static IHttpClientBuilder AddServiceGrpcClient<TClient>(this IServiceCollection services, string service)
        where TClient : ClientBase
    {
        services.TryAddGrpcClientsByName<TClient>();
#pragma warning disable EXTEXP0001
        return services.AddGrpcClient<TClient>(service, options => options.Address = new Uri($"http://_grpc.{service}"))

            // Calls carry their own deadlines (a generation may take minutes) and the callers decide
            // what a failure means (fail over, degrade), so the standard HTTP resilience pipeline that
            // the service defaults give every HttpClient is taken off gRPC clients. The API is marked
            // experimental (EXTEXP0001) but is the documented way to opt a client out of those defaults.
            .RemoveAllResilienceHandlers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                ConnectTimeout = TimeSpan.FromSeconds(5),
            })

            // One long-lived HTTP/2 connection pool per service: rotating handlers would reconnect,
            // and service discovery re-resolves addresses inside the handler anyway.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
#pragma warning restore EXTEXP0001
    }

    private static void TryAddGrpcClientsByName<TClient>(this IServiceCollection services)
        where TClient : ClientBase
    {
        if (!services.Any(d => d.ServiceType == typeof(GrpcClientsByName<TClient>)))
        {
            services.AddSingleton<GrpcClientsByName<TClient>>();
        }
    }
}

/// <summary>The registered clients of one gRPC contract by service name, created once each (a client is a thin, thread-safe wrapper of its channel).</summary>
public sealed class GrpcClientsByName<TClient>(GrpcClientFactory factory)
    where TClient : ClientBase
{
    private readonly ConcurrentDictionary<string, TClient> _clients = new(StringComparer.Ordinal);

    public TClient For(string service) => _clients.GetOrAdd(service, factory.CreateClient<TClient>);
}
