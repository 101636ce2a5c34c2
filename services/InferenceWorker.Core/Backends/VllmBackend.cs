using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Router.Contracts;
using Router.Contracts.Backends;

namespace Router.InferenceWorker.Backends;

/// <summary>
/// vLLM's OpenAI-compatible HTTP API (also spoken by llama.cpp's server and Ollama):
/// /v1/chat/completions for chat messages, /v1/completions for a plain prompt, with logprobs and
/// top_logprobs, streamed as server-sent events when asked. Failures become gRPC statuses naming
/// the backend and the cause; calls that failed before any output are retried with backoff.
/// </summary>
public sealed partial class VllmBackend(HttpClient http, WorkerOptions options, ILogger<VllmBackend> logger) : IInferenceBackend
{
    /// <summary>vLLM's default cap on logprobs per token (--max-logprobs).</summary>
    public const int MaxTopLogprobs = 20;

    public string Name => "vllm";

    public ModelInfo Info { get; } = new()
    {
        Model = options.Model,
        Backend = "vllm",
        ParameterCount = options.ParameterCount,
        ContextLength = options.ContextLength,
        InputUsdPerMillionTokens = options.InputUsdPerMillionTokens,
        OutputUsdPerMillionTokens = options.OutputUsdPerMillionTokens,
        MaxTopLogprobs = MaxTopLogprobs,
    };

    private readonly Uri _chatCompletions = new(options.Endpoint!, "v1/chat/completions");
    private readonly Uri _completions = new(options.Endpoint!, "v1/completions");

    private string BackendModel => options.BackendModel ?? options.Model;

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var chat = request.Messages.Count > 0;
        var json = await SendForJsonAsync(chat ? _chatCompletions : _completions, Body(request, chat, stream: false), new OpenAiResponseReader(chat, streamed: false, request.TopLogprobs), cancellationToken);
        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var choice = FirstChoice(json);
        var result = new GenerateResponse
        {
            Model = options.Model,
            Text = Valid(choice.Text) ?? string.Empty,
            FinishReason = Valid(choice.FinishReason) ?? "stop",
            Usage = Valid(json.Usage) ?? new TokenUsage(),
            Latency = new BackendLatency { TimeToFirstTokenMs = total, TotalMs = total },
            Backend = Name,
        };
        result.Tokens.AddRange(Tokens(choice));
        return result;
    }

    public async IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var chat = request.Messages.Count > 0;
        using var response = await SendAsync(chat ? _chatCompletions : _completions, Body(request, chat, stream: true), static (response, _) => Task.FromResult(response), cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(body, Encoding.UTF8);
        var chunks = new OpenAiResponseReader(chat, streamed: true, request.TopLogprobs);
        double? firstToken = null;
        var finish = string.Empty;
        TokenUsage? usage = null;
        var completionTokens = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data:".Length..].Trim();
            if (data == "[DONE]")
            {
                break;
            }

            var json = ParseJson(Encoding.UTF8.GetBytes(data), chunks);
            usage = Valid(json.Usage) ?? usage;
            if (json.FirstChoice is not { } choice)
            {
                continue;
            }

            var text = Valid(choice.Text) ?? string.Empty;
            var tokens = Tokens(choice, requireLogprobs: text.Length > 0);
            finish = Valid(choice.FinishReason) ?? finish;
            if (text.Length > 0 || tokens.Count > 0)
            {
                firstToken ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                completionTokens += tokens.Count;
                var chunk = new GenerateChunk { Text = text, Model = options.Model, Backend = Name };
                chunk.Tokens.AddRange(tokens);
                yield return chunk;
            }
        }

        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        yield return new GenerateChunk
        {
            FinishReason = finish.Length > 0 ? finish : "stop",
            Usage = usage ?? new TokenUsage { CompletionTokens = completionTokens },
            Latency = new BackendLatency { TimeToFirstTokenMs = firstToken ?? total, TotalMs = total },
            Model = options.Model,
            Backend = Name,
        };
    }

    /// <summary>
    /// One generated token with the top log-probs: candidates are looked up among them (with or
    /// without a leading space, case-sensitively first). A candidate that is not among them gets
    /// the smallest returned log-prob as an upper bound.
    /// </summary>
    public async Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var chat = request.Messages.Count > 0;
        var generate = new GenerateRequest { MaxTokens = 1, Temperature = 0, TopLogprobs = MaxTopLogprobs, Prompt = request.Prompt };
        generate.Messages.AddRange(request.Messages);
        var json = await SendForJsonAsync(chat ? _chatCompletions : _completions, Body(generate, chat, stream: false), new OpenAiResponseReader(chat, streamed: false, MaxTopLogprobs), cancellationToken);
        var first = Tokens(FirstChoice(json)).FirstOrDefault()
            ?? throw Status(StatusCode.Internal, "returned no token to score");
        return new ScoreResponse
        {
            Model = options.Model,
            Candidates = { CandidateScores.From(first, request.Candidates) },
            Usage = Valid(json.Usage) ?? new TokenUsage(),
            Latency = new BackendLatency { TotalMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds },
        };
    }

    /// <summary>
    /// The request body as UTF-8 JSON, written straight out: it is sent on every stage, so no JSON
    /// tree is built for it, and it is written into the thread's buffer, so only the exact body is
    /// allocated. A buffer grown past <see cref="KeptBodyBufferBytes"/> by a long prompt is not kept.
    /// </summary>
    private byte[] Body(GenerateRequest request, bool chat, bool stream)
    {
        var buffer = t_bodyBuffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var body = t_bodyWriter ??= new Utf8JsonWriter(buffer);
        body.Reset(buffer);
        body.WriteStartObject();
        body.WriteString("model"u8, BackendModel);
        body.WriteNumber("max_tokens"u8, request.MaxTokens > 0 ? request.MaxTokens : 512);
        body.WriteBoolean("stream"u8, stream);
        if (chat)
        {
            body.WriteStartArray("messages"u8);
            foreach (var message in request.Messages)
            {
                body.WriteStartObject();
                body.WriteString("role"u8, message.Role);
                body.WriteString("content"u8, message.Content);
                body.WriteEndObject();
            }

            body.WriteEndArray();
            body.WriteBoolean("logprobs"u8, true);
            body.WriteNumber("top_logprobs"u8, request.TopLogprobs);
        }
        else
        {
            body.WriteString("prompt"u8, request.Prompt);

            // The legacy completions API returns the chosen token plus k alternatives; at least one is needed.
            body.WriteNumber("logprobs"u8, Math.Max(1, request.TopLogprobs));
        }

        if (stream)
        {
            body.WriteStartObject("stream_options"u8);
            body.WriteBoolean("include_usage"u8, true);
            body.WriteEndObject();
        }

        if (request.HasTemperature)
        {
            body.WriteNumber("temperature"u8, request.Temperature);
        }

        if (request.HasTopP)
        {
            body.WriteNumber("top_p"u8, request.TopP);
        }

        if (request.HasSeed)
        {
            body.WriteNumber("seed"u8, request.Seed);
        }

        if (request.Stop.Count > 0)
        {
            body.WriteStartArray("stop"u8);
            foreach (var stop in request.Stop)
            {
                body.WriteStringValue(stop);
            }

            body.WriteEndArray();
        }

        body.WriteEndObject();
        body.Flush();

        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > KeptBodyBufferBytes)
        {
            (t_bodyBuffer, t_bodyWriter) = (null, null);
        }

        return bytes;
    }

    private const int KeptBodyBufferBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_bodyBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_bodyWriter;

    /// <summary>A call answered with one JSON body, read whole within Worker:RequestTimeout into a pooled buffer and parsed there.</summary>
    private Task<OpenAiResponse> SendForJsonAsync(Uri endpoint, byte[] body, OpenAiResponseReader reader, CancellationToken cancellationToken) =>
        SendAsync(endpoint, body, async (response, timeout) =>
        {
            using (response)
            {
                var (buffer, length) = await ReadBodyAsync(response, timeout);
                try
                {
                    return ParseJson(buffer.AsSpan(0, length), reader);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }, cancellationToken);

    /// <summary>The whole body in a buffer from the pool, rented at the declared length (up to a megabyte) and grown as needed; the caller returns it.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var declared = response.Content.Headers.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent(declared is { } known and >= 0 and < 1024 * 1024 ? (int)known + 1 : 16 * 1024);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return (buffer, length);
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>
    /// Sends the body, retrying failures before any output with backoff, and hands a successful
    /// response to <paramref name="read"/> within the attempt's Worker:RequestTimeout: a failure while
    /// reading it is retried like one while sending.
    /// </summary>
    private async Task<T> SendAsync<T>(Uri endpoint, byte[] body, Func<HttpResponseMessage, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.RequestTimeout);
            using var message = new HttpRequestMessage(HttpMethod.Post, endpoint)
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } },
            };
            if (!string.IsNullOrEmpty(options.ApiKey))
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
            }

            (HttpStatusCode Status, string Detail, TimeSpan? RetryAfter) failure;
            try
            {
                var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    return await read(response, timeout.Token);
                }

                failure = await FailureAsync(response, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Status(StatusCode.DeadlineExceeded, $"did not answer within Worker:RequestTimeout ({options.RequestTimeout.TotalSeconds:0.#} s)");
            }
            catch (Exception e) when (e is HttpRequestException or IOException && attempt < options.MaxRetries)
            {
                LogRetry(logger, attempt + 1, e.Message);
                await Task.Delay(Backoff(attempt, null), cancellationToken);
                continue;
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                throw Status(StatusCode.Unavailable, $"is unreachable at {options.Endpoint}: {e.Message}");
            }

            if (BackendErrors.IsRetryable(failure.Status) && attempt < options.MaxRetries)
            {
                LogRetry(logger, attempt + 1, $"{(int)failure.Status} {failure.Detail}");
                await Task.Delay(Backoff(attempt, failure.RetryAfter), cancellationToken);
                continue;
            }

            throw BackendErrors.FromHttp(Name, options.Endpoint, BackendModel, failure.Status, failure.Detail);
        }
    }

    /// <summary>What a refusal said, read and disposed within the attempt's timeout.</summary>
    private static async Task<(HttpStatusCode Status, string Detail, TimeSpan? RetryAfter)> FailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using (response)
        {
            return (response.StatusCode, await ErrorDetailAsync(response, cancellationToken), response.Headers.RetryAfter?.Delta);
        }
    }

    private static TimeSpan Backoff(int attempt, TimeSpan? retryAfter) =>
        retryAfter is { } wait && wait < TimeSpan.FromSeconds(10)
            ? wait
            : TimeSpan.FromMilliseconds(100 * Math.Pow(2, attempt) * (0.8 + 0.4 * Random.Shared.NextDouble()));

    private static async Task<string> ErrorDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            return JsonNode.Parse(text)?["error"] switch
            {
                JsonObject error => error["message"]?.GetValue<string>() ?? text,
                JsonValue message => message.ToString(),
                _ => JsonNode.Parse(text)?["message"]?.GetValue<string>() ?? text,
            };
        }
        catch (JsonException)
        {
            return text.Length > 300 ? text[..300] : text;
        }
    }

    /// <summary>One pass of a reader over the UTF-8 bytes, with no document model between: logprobs make responses long, and parsing them is most of the worker's CPU.</summary>
    private OpenAiResponse ParseJson(ReadOnlySpan<byte> utf8, OpenAiResponseReader reader)
    {
        try
        {
            return reader.Read(utf8) ?? throw Status(StatusCode.Internal, "returned malformed JSON: not an object");
        }
        catch (JsonException e)
        {
            var text = Encoding.UTF8.GetString(utf8[..Math.Min(utf8.Length, 200)]);
            throw Status(StatusCode.Internal, $"returned malformed JSON ({e.Message}): {text}");
        }
    }

    /// <summary>A value of the answer, or Internal naming the field and what is wrong with it: the server broke the protocol.</summary>
    private T Valid<T>(Checked<T> value) =>
        value.Problem is { } problem ? throw Status(StatusCode.Internal, $"returned an answer in an unexpected shape: {problem}") : value.Value;

    private OpenAiChoice FirstChoice(OpenAiResponse json) => json.FirstChoice ?? throw Status(StatusCode.Internal, "returned no choices");

    /// <summary>The choice's per-token log-probs; the router cannot work without them.</summary>
    private List<TokenLogprob> Tokens(OpenAiChoice choice, bool requireLogprobs = true) => choice.Logprobs switch
    {
        null when requireLogprobs => throw Status(StatusCode.FailedPrecondition, "returned no logprobs; the router needs them (for vLLM, check --max-logprobs; some models or servers do not support them)"),
        null => [],
        { Problem: { } problem } => throw Status(StatusCode.Internal, $"returned logprobs in an unexpected shape: {problem}"),
        { } tokens => tokens.Value,
    };

    private RpcException Status(StatusCode code, string cause) => BackendErrors.Status(Name, options.Endpoint, code, cause);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vllm call failed before any output (attempt {Attempt}): {Cause}; retrying")]
    private static partial void LogRetry(ILogger logger, int attempt, string cause);
}
