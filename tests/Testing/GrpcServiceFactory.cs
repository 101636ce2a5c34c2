using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Router.Testing;

/// <summary>
/// A gRPC service's real host on real Kestrel (loopback, free port, HTTP/2 only as in the AppHost),
/// reached through a real gRPC channel: what the Gateway does in production.
/// </summary>
public class GrpcServiceFactory<TEntryPoint> : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    private readonly Dictionary<string, string?> _settings;
    private readonly StartUpFailureLog _startUpLog = new();
    private GrpcChannel? _channel;

    public GrpcServiceFactory(IDictionary<string, string?> settings)
    {
        _settings = new Dictionary<string, string?>(settings)
        {
            ["Kestrel:EndpointDefaults:Protocols"] = "Http2",
            [WebHostDefaults.ServerUrlsKey] = LoopbackKestrel.AnyFreePort,
        };
        UseKestrel();
    }

    public Uri Address
    {
        get
        {
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        }
    }

    public GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress(Address);

    /// <summary>Starts the host, expecting it to fail, and returns every exception its start threw or logged.</summary>
    public string StartUpFailure() => _startUpLog.FailureOf(StartServer);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        _startUpLog.AddTo(builder);
    }

    protected override void Dispose(bool disposing)
    {
        _channel?.Dispose();
        base.Dispose(disposing);
    }
}
