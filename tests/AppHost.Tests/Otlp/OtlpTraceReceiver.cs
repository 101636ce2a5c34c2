using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Router.LocalServers;

namespace Router.AppHost.Tests.Otlp;

/// <summary>One span as a service exported it over OTLP.</summary>
public sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name);

/// <summary>
/// An OTLP/gRPC collector on loopback that the services of a test run export to, in the place of the
/// dashboard (the AppHost points every service at ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL): it keeps the
/// spans and drops metrics and logs.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private WebApplication? _app;

    public Uri Endpoint { get; private init; } = null!;

    public IReadOnlyCollection<ReceivedSpan> Spans => _spans;

    public static async Task<OtlpTraceReceiver> StartAsync()
    {
        var port = FreePort.Next();
        var receiver = new OtlpTraceReceiver { Endpoint = new Uri($"http://127.0.0.1:{port}") };
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(receiver);
        var app = builder.Build();
        app.MapGrpcService<TraceExports>();
        app.MapGrpcService<MetricExports>();
        app.MapGrpcService<LogExports>();
        await app.StartAsync();
        receiver._app = app;
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private void Add(ExportTraceServiceRequest export)
    {
        foreach (var resource in export.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? string.Empty;
            foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
            {
                _spans.Enqueue(new ReceivedSpan(service, Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId), span.Name));
            }
        }
    }

    private static string Hex(ByteString bytes) => Convert.ToHexString(bytes.Span).ToLowerInvariant();

    private sealed class TraceExports(OtlpTraceReceiver receiver) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            receiver.Add(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricExports : Metrics.MetricsService.MetricsServiceBase
    {
        public override Task<Metrics.ExportMetricsServiceResponse> Export(Metrics.ExportMetricsServiceRequest request, ServerCallContext context) =>
            Task.FromResult(new Metrics.ExportMetricsServiceResponse());
    }

    private sealed class LogExports : Logs.LogsService.LogsServiceBase
    {
        public override Task<Logs.ExportLogsServiceResponse> Export(Logs.ExportLogsServiceRequest request, ServerCallContext context) =>
            Task.FromResult(new Logs.ExportLogsServiceResponse());
    }
}
