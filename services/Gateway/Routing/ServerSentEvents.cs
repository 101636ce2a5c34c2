using System.Text.Json;

namespace Router.Gateway.Routing;

/// <summary>Writes OpenAI-style streaming responses: `data: {json}` events, closed by `data: [DONE]`.</summary>
public sealed class ServerSentEvents(HttpResponse response, JsonSerializerOptions json)
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private bool _started;

    public bool Started => _started;

    public async Task WriteAsync<T>(T payload, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers.CacheControl = "no-cache";
            _started = true;
        }

        await response.Body.WriteAsync(Prefix, cancellationToken);
        await JsonSerializer.SerializeAsync(response.Body, payload, json, cancellationToken);
        await response.Body.WriteAsync(Separator, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Done, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
