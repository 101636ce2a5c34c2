using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Router.Testing.OpenAiStub;

/// <summary>One token the stub answers with: its text, log-prob and top alternatives.</summary>
public sealed record StubToken(string Token, double Logprob, IReadOnlyList<(string Token, double Logprob)> Top);

/// <summary>What the stub does with the next request, instead of answering normally.</summary>
public abstract record StubBehaviour
{
    public sealed record Fail(int Status, string Message, int? RetryAfterSeconds = null) : StubBehaviour;

    public sealed record Malformed : StubBehaviour;

    public sealed record NoLogprobs : StubBehaviour;

    /// <summary>Well-formed JSON in the wrong shape: the message content is a number.</summary>
    public sealed record WrongShape : StubBehaviour;

    /// <summary>Never answers; records whether the client aborted the request.</summary>
    public sealed record Hang : StubBehaviour;

    /// <summary>Streams the first <paramref name="Tokens"/> tokens, then a malformed event, and ends the stream: a backend that breaks mid-answer.</summary>
    public sealed record BreakAfter(int Tokens) : StubBehaviour;

    /// <summary>Streams the first <paramref name="Tokens"/> tokens, then sends nothing more until the client aborts the request (recorded): a generation that is cancelled mid-answer.</summary>
    public sealed record StreamThenWait(int Tokens) : StubBehaviour;

    /// <summary>Sends the headers and the start of a JSON body, then nothing more until the client aborts the request (recorded): a backend that stalls mid-answer.</summary>
    public sealed record StallBody : StubBehaviour;

    /// <summary>Holds the request until <paramref name="Release"/> completes, then answers normally; <paramref name="Arrived"/> completes when it is held.</summary>
    public sealed record Hold(TaskCompletionSource Arrived, Task Release) : StubBehaviour;
}

/// <summary>
/// A stand-in for vLLM / OpenAI on real Kestrel (loopback, free port) that speaks the real
/// OpenAI-compatible JSON: /v1/chat/completions and /v1/completions, streamed (SSE) or not, with
/// logprobs and top_logprobs, usage, and scripted failures. Only the model is fake, so the
/// production client code is what gets tested.
/// </summary>
public sealed class OpenAiStubServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<StubBehaviour> _behaviours = new();
    private int _aborted;

    private OpenAiStubServer(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    /// <summary>Every request body received, in order.</summary>
    public ConcurrentQueue<JsonNode> Requests { get; } = new();

    public int AbortedRequests => Volatile.Read(ref _aborted);

    public IReadOnlyList<StubToken> Tokens { get; set; } =
    [
        new("Answer", 0, [("Answer", 0), ("The", -9.5), ("I", -11.25)]),
        new(":", -0.0001, [(":", -0.0001), (" is", -9.2), (" -", -10.5)]),
        new(" B", -0.356674944, [(" B", -0.356674944), (" C", -1.427116356), (" A", -3.218875825)]),
        new(" because", -1.203972804, [(" because", -1.203972804), (".", -0.510825624), (" since", -3.912023005)]),
    ];

    /// <summary>Tokens per request, when the answer depends on the prompt; <see cref="Tokens"/> otherwise.</summary>
    public Func<JsonNode, IReadOnlyList<StubToken>>? TokensFor { get; set; }

    public int PromptTokens { get; set; } = 42;

    public string FinishReason { get; set; } = "stop";

    public void Enqueue(params StubBehaviour[] behaviours)
    {
        foreach (var behaviour in behaviours)
        {
            _behaviours.Enqueue(behaviour);
        }
    }

    public static async Task<OpenAiStubServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var stub = new OpenAiStubServer(app);
        app.MapPost("/v1/chat/completions", context => stub.HandleAsync(context, chat: true));
        app.MapPost("/v1/completions", context => stub.HandleAsync(context, chat: false));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        stub.Address = new Uri(address);
        return stub;
    }

    private async Task HandleAsync(HttpContext context, bool chat)
    {
        var body = (await JsonNode.ParseAsync(context.Request.Body))!;
        Requests.Enqueue(body);
        _behaviours.TryDequeue(out var behaviour);
        switch (behaviour)
        {
            case StubBehaviour.Fail fail:
                context.Response.StatusCode = fail.Status;
                if (fail.RetryAfterSeconds is { } seconds)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await context.Response.WriteAsJsonAsync(new JsonObject { ["object"] = "error", ["message"] = fail.Message, ["code"] = fail.Status });
                return;
            case StubBehaviour.Malformed:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"id\": \"cmpl-1\", \"choices\": [{\"text\": ");
                return;
            case StubBehaviour.WrongShape:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"id\": \"cmpl-1\", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": 5}, \"finish_reason\": \"stop\"}]}");
                return;
            case StubBehaviour.Hang:
                await WaitForAbortAsync(context);
                return;
            case StubBehaviour.StallBody:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"id\": \"cmpl-1\", \"choices\": [");
                await context.Response.Body.FlushAsync();
                await WaitForAbortAsync(context);
                return;
            case StubBehaviour.Hold hold:
                hold.Arrived.TrySetResult();
                try
                {
                    await hold.Release.WaitAsync(context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _aborted);
                    return;
                }

                break;
        }

        var withLogprobs = behaviour is not StubBehaviour.NoLogprobs;
        var maxTokens = body["max_tokens"]?.GetValue<int>() ?? Tokens.Count;
        var k = chat ? (body["top_logprobs"]?.GetValue<int>() ?? 0) : (body["logprobs"]?.GetValue<int>() ?? 0);
        var answer = TokensFor?.Invoke(body) ?? Tokens;
        var tokens = answer.Take(maxTokens).ToList();
        var finish = tokens.Count < answer.Count ? "length" : FinishReason;
        var usage = new JsonObject { ["prompt_tokens"] = PromptTokens, ["completion_tokens"] = tokens.Count, ["total_tokens"] = PromptTokens + tokens.Count };
        if (body["stream"]?.GetValue<bool>() != true)
        {
            var choice = chat
                ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = Text(tokens) }, ["finish_reason"] = finish }
                : new JsonObject { ["index"] = 0, ["text"] = Text(tokens), ["finish_reason"] = finish };
            if (withLogprobs)
            {
                choice["logprobs"] = chat ? ChatLogprobs(tokens, k) : CompletionLogprobs(tokens, k);
            }

            await context.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "cmpl-stub",
                ["object"] = chat ? "chat.completion" : "text_completion",
                ["model"] = body["model"]?.GetValue<string>(),
                ["choices"] = new JsonArray(choice),
                ["usage"] = usage,
            });
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var sent = 0;
        foreach (var token in tokens)
        {
            if (behaviour is StubBehaviour.BreakAfter breakAfter && sent == breakAfter.Tokens)
            {
                await context.Response.WriteAsync("data: {\"id\": \"cmpl-stub\", \"choices\": [\n\n");
                return;
            }

            if (behaviour is StubBehaviour.StreamThenWait wait && sent == wait.Tokens)
            {
                await WaitForAbortAsync(context);
                return;
            }

            sent++;

            var choice = chat
                ? new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = token.Token }, ["finish_reason"] = null }
                : new JsonObject { ["index"] = 0, ["text"] = token.Token, ["finish_reason"] = null };
            if (withLogprobs)
            {
                choice["logprobs"] = chat ? ChatLogprobs([token], k) : CompletionLogprobs([token], k);
            }

            await WriteEventAsync(context, new JsonObject { ["id"] = "cmpl-stub", ["choices"] = new JsonArray(choice) });
        }

        var last = chat
            ? new JsonObject { ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = finish }
            : new JsonObject { ["index"] = 0, ["text"] = string.Empty, ["finish_reason"] = finish };
        await WriteEventAsync(context, new JsonObject { ["id"] = "cmpl-stub", ["choices"] = new JsonArray(last) });
        if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            await WriteEventAsync(context, new JsonObject { ["id"] = "cmpl-stub", ["choices"] = new JsonArray(), ["usage"] = usage });
        }

        await context.Response.WriteAsync("data: [DONE]\n\n");
    }

    private async Task WaitForAbortAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _aborted);
        }
    }

    private static string Text(IEnumerable<StubToken> tokens) => string.Concat(tokens.Select(t => t.Token));

    private static JsonObject ChatLogprobs(IEnumerable<StubToken> tokens, int k) => new()
    {
        ["content"] = new JsonArray([.. tokens.Select(t => (JsonNode)new JsonObject
        {
            ["token"] = t.Token,
            ["logprob"] = t.Logprob,
            ["bytes"] = new JsonArray([.. Encoding.UTF8.GetBytes(t.Token).Select(b => (JsonNode)JsonValue.Create((int)b))]),
            ["top_logprobs"] = new JsonArray([.. t.Top.Take(k).Select(a => (JsonNode)new JsonObject { ["token"] = a.Token, ["logprob"] = a.Logprob })]),
        })]),
    };

    private static JsonObject CompletionLogprobs(IReadOnlyList<StubToken> tokens, int k)
    {
        var offsets = new JsonArray();
        var offset = 0;
        foreach (var token in tokens)
        {
            offsets.Add(offset);
            offset += token.Token.Length;
        }

        return new JsonObject
        {
            ["tokens"] = new JsonArray([.. tokens.Select(t => (JsonNode)JsonValue.Create(t.Token))]),
            ["token_logprobs"] = new JsonArray([.. tokens.Select(t => (JsonNode)JsonValue.Create(t.Logprob))]),
            ["top_logprobs"] = new JsonArray([.. tokens.Select(t =>
            {
                var top = new JsonObject();
                foreach (var (token, logprob) in t.Top.Take(k))
                {
                    top[token] = logprob;
                }

                return (JsonNode)top;
            })]),
            ["text_offset"] = offsets,
        };
    }

    private static async Task WriteEventAsync(HttpContext context, JsonObject payload)
    {
        await context.Response.WriteAsync("data: " + payload.ToJsonString() + "\n\n");
        await context.Response.Body.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
