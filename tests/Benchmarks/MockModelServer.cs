using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>
/// The answer a mock model gives: the same eight tokens every time, each chosen with the probability
/// the prompt asks for with a <c>[confidence=0.30]</c> marker (0.99 without one), so the geometric-mean
/// probability of the answer, the router's uncalibrated confidence, is exactly that value.
/// </summary>
public static class MockAnswer
{
    public const double DefaultConfidence = 0.99;

    private const string Marker = "[confidence=";

    /// <summary>
    /// Each alternative's share of min(chosen, 1 - chosen): the chosen token stays the most likely one
    /// (as in greedy decoding) and the top-k probabilities never sum to more than 1.
    /// </summary>
    private static readonly double[] AlternativeShares = [0.5, 0.25, 0.15, 0.1];

    private static readonly string[] AnswerTokens = ["Answer", ":", " B", ",", " because", " Mars", " looks", " red."];

    private static readonly string[] AlternativeTokens = [" A", " C", " D", " The"];

    public static string Prompt(string question, double? confidence) =>
        confidence is { } p ? string.Create(CultureInfo.InvariantCulture, $"{Marker}{p:0.###}] {question}") : question;

    /// <summary>The confidence a prompt asks for; the default when it has no marker or a value outside (0, 1].</summary>
    public static double ConfidenceOf(string prompt)
    {
        var start = prompt.IndexOf(Marker, StringComparison.Ordinal);
        if (start < 0)
        {
            return DefaultConfidence;
        }

        start += Marker.Length;
        var end = prompt.IndexOf(']', start);
        return end > start
            && double.TryParse(prompt.AsSpan(start, end - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var p)
            && p is > 0 and <= 1
            ? p
            : DefaultConfidence;
    }

    public static int Length => AnswerTokens.Length;

    /// <summary>The answer's first <paramref name="maxTokens"/> tokens with their log-prob and up to <paramref name="topLogprobs"/> alternatives, most likely first.</summary>
    public static IReadOnlyList<MockToken> Tokens(double confidence, int maxTokens, int topLogprobs)
    {
        var chosen = Math.Log(confidence);
        var spread = Math.Min(confidence, 1 - confidence);
        var tokens = new MockToken[Math.Clamp(maxTokens, 1, AnswerTokens.Length)];
        for (var i = 0; i < tokens.Length; i++)
        {
            var top = new List<(string, double)>(AlternativeShares.Length + 1) { (AnswerTokens[i], chosen) };
            for (var a = 0; a < AlternativeShares.Length && spread > 0; a++)
            {
                top.Add((AlternativeTokens[a], Math.Log(spread * AlternativeShares[a])));
            }

            tokens[i] = new MockToken(AnswerTokens[i], chosen, [.. top.Take(topLogprobs)]);
        }

        return tokens;
    }
}

public sealed record MockToken(string Text, double Logprob, IReadOnlyList<(string Text, double Logprob)> Top);

/// <summary>
/// A mock OpenAI-compatible model server that answers at once: POST /v1/chat/completions,
/// streamed (SSE, with stream_options.include_usage) or not, with logprobs and top_logprobs in
/// OpenAI's shape and the confidence the prompt asks for (<see cref="MockAnswer"/>). It runs as its
/// own process (the benchmark program started with <see cref="Command"/>), so its CPU is measured
/// apart from the load generator's. It keeps nothing per request.
/// </summary>
public static class MockModelServer
{
    public const string Command = "mock-model-server";

    private const int PromptTokens = 24;

    /// <summary>Starts the server as a child process of this benchmark program on a free loopback port.</summary>
    public static async Task<(ChildProcess Process, Uri Address)> StartProcessAsync(CancellationToken cancellationToken)
    {
        var address = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var program = System.Reflection.Assembly.GetEntryAssembly()!.Location;
        var process = ChildProcess.Start("dotnet", [program, Command, address.ToString()], workingDirectory: Path.GetDirectoryName(program));
        await ServiceProcess.WaitUntilAnswersAsync("mock model server", process, new Uri(address, "/health"), cancellationToken);
        return (process, address);
    }

    public static async Task<int> RunAsync(string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        await using var app = builder.Build();
        app.MapGet("/health", () => "ok");
        app.MapPost("/v1/chat/completions", (Delegate)ChatCompletionsAsync);
        await app.RunAsync();
        return 0;
    }

    private static async Task ChatCompletionsAsync(HttpContext context)
    {
        ChatRequest request;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            request = ChatRequest.From(body.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { error = new { message = $"invalid request body: {e.Message}", type = "invalid_request_error" } });
            return;
        }

        var tokens = MockAnswer.Tokens(MockAnswer.ConfidenceOf(request.Prompt), request.MaxTokens, request.Logprobs ? request.TopLogprobs : 0);
        var buffer = new ArrayBufferWriter<byte>(4096);
        if (request.Stream)
        {
            WriteStream(buffer, request, tokens);
            context.Response.ContentType = "text/event-stream";
        }
        else
        {
            using var json = new Utf8JsonWriter(buffer);
            WriteCompletion(json, request, tokens);
            json.Flush();
            context.Response.ContentType = "application/json";
        }

        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    private static void WriteCompletion(Utf8JsonWriter json, ChatRequest request, IReadOnlyList<MockToken> tokens)
    {
        WriteHeader(json, request, "chat.completion");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", string.Concat(tokens.Select(t => t.Text)));
        json.WriteEndObject();
        WriteLogprobs(json, request, tokens);
        json.WriteString("finish_reason", FinishReason(tokens));
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, tokens.Count);
        json.WriteEndObject();
    }

    private static void WriteStream(ArrayBufferWriter<byte> buffer, ChatRequest request, IReadOnlyList<MockToken> tokens)
    {
        for (var i = 0; i <= tokens.Count; i++)
        {
            WriteEvent(buffer, json =>
            {
                WriteHeader(json, request, "chat.completion.chunk");
                json.WriteStartArray("choices");
                json.WriteStartObject();
                json.WriteNumber("index", 0);
                json.WriteStartObject("delta");
                if (i < tokens.Count)
                {
                    json.WriteString("content", tokens[i].Text);
                    json.WriteEndObject();
                    WriteLogprobs(json, request, [tokens[i]]);
                    json.WriteNull("finish_reason");
                }
                else
                {
                    json.WriteEndObject();
                    json.WriteString("finish_reason", FinishReason(tokens));
                }

                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
            });
        }

        if (request.IncludeUsage)
        {
            WriteEvent(buffer, json =>
            {
                WriteHeader(json, request, "chat.completion.chunk");
                json.WriteStartArray("choices");
                json.WriteEndArray();
                WriteUsage(json, tokens.Count);
                json.WriteEndObject();
            });
        }

        buffer.Write("data: [DONE]\n\n"u8);
    }

    private static void WriteEvent(ArrayBufferWriter<byte> buffer, Action<Utf8JsonWriter> payload)
    {
        buffer.Write("data: "u8);
        using (var json = new Utf8JsonWriter(buffer))
        {
            payload(json);
        }

        buffer.Write("\n\n"u8);
    }

    private static void WriteHeader(Utf8JsonWriter json, ChatRequest request, string kind)
    {
        json.WriteStartObject();
        json.WriteString("id", "chatcmpl-mock");
        json.WriteString("object", kind);
        json.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        json.WriteString("model", request.Model);
    }

    private static void WriteLogprobs(Utf8JsonWriter json, ChatRequest request, IReadOnlyList<MockToken> tokens)
    {
        if (!request.Logprobs)
        {
            json.WriteNull("logprobs");
            return;
        }

        json.WriteStartObject("logprobs");
        json.WriteStartArray("content");
        foreach (var token in tokens)
        {
            WriteToken(json, token.Text, token.Logprob);
            json.WriteStartArray("top_logprobs");
            foreach (var (text, logprob) in token.Top)
            {
                WriteToken(json, text, logprob);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>Opens a token object (token, logprob, bytes); the caller closes it.</summary>
    private static void WriteToken(Utf8JsonWriter json, string text, double logprob)
    {
        json.WriteStartObject();
        json.WriteString("token", text);
        json.WriteNumber("logprob", logprob);
        json.WriteStartArray("bytes");
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            json.WriteNumberValue(b);
        }

        json.WriteEndArray();
    }

    private static void WriteUsage(Utf8JsonWriter json, int completionTokens)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", PromptTokens);
        json.WriteNumber("completion_tokens", completionTokens);
        json.WriteNumber("total_tokens", PromptTokens + completionTokens);
        json.WriteEndObject();
    }

    private static string FinishReason(IReadOnlyList<MockToken> tokens) => tokens.Count < MockAnswer.Length ? "length" : "stop";

    private sealed record ChatRequest(string Model, string Prompt, bool Stream, bool IncludeUsage, bool Logprobs, int TopLogprobs, int MaxTokens)
    {
        public static ChatRequest From(JsonElement body)
        {
            var messages = body.GetProperty("messages");
            var prompt = messages.GetArrayLength() > 0 && messages[messages.GetArrayLength() - 1].TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                ? content.GetString()!
                : string.Empty;
            return new ChatRequest(
                body.GetProperty("model").GetString() ?? throw new FormatException("model must be a string"),
                prompt,
                Flag(body, "stream"),
                body.TryGetProperty("stream_options", out var options) && Flag(options, "include_usage"),
                Flag(body, "logprobs"),
                body.TryGetProperty("top_logprobs", out var top) && top.ValueKind == JsonValueKind.Number ? top.GetInt32() : 0,
                body.TryGetProperty("max_tokens", out var max) && max.ValueKind == JsonValueKind.Number ? max.GetInt32() : MockAnswer.Length);
        }

        private static bool Flag(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
    }
}
