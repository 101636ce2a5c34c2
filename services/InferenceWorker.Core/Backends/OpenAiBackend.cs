using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;
using OpenAI.Chat;
using Router.Contracts;
using Router.Contracts.Backends;
using ChatMessage = Router.Contracts.ChatMessage;

namespace Router.InferenceWorker.Backends;

/// <summary>
/// OpenAI and Azure OpenAI through Semantic Kernel's OpenAI connector, with logprobs and
/// top_logprobs read from the connector's inner completion. Azure OpenAI is reached through its
/// OpenAI-compatible v1 endpoint (https://&lt;resource&gt;.openai.azure.com/openai/v1/) and the
/// deployment name as the model. Only chat is offered: the completions API is legacy there.
/// </summary>
public sealed class OpenAiBackend : IInferenceBackend
{
    private readonly IChatCompletionService _chat;
    private readonly WorkerOptions _options;

    public OpenAiBackend(WorkerOptions options)
    {
        _options = options;
        Name = options.Backend;
        var client = new OpenAIClient(
            new ApiKeyCredential(options.ApiKey ?? "not-needed"),
            new OpenAIClientOptions
            {
                Endpoint = options.Endpoint,
                NetworkTimeout = options.RequestTimeout,
                RetryPolicy = new ClientRetryPolicy(options.MaxRetries),
            });
        _chat = new OpenAIChatCompletionService(options.BackendModel ?? options.Model, client);
        Info = new ModelInfo
        {
            Model = options.Model,
            Backend = Name,
            ParameterCount = options.ParameterCount,
            ContextLength = options.ContextLength,
            InputUsdPerMillionTokens = options.InputUsdPerMillionTokens,
            OutputUsdPerMillionTokens = options.OutputUsdPerMillionTokens,
            MaxTopLogprobs = 20,
        };
    }

    public string Name { get; }

    public ModelInfo Info { get; }

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var content = await CallAsync(() => _chat.GetChatMessageContentAsync(History(request.Messages, request.Prompt), Settings(request), cancellationToken: cancellationToken), cancellationToken);
        var completion = content.InnerContent as ChatCompletion ?? throw Status(StatusCode.Internal, "returned no completion");
        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var response = new GenerateResponse
        {
            Model = Info.Model,
            Text = content.Content ?? string.Empty,
            FinishReason = FinishReason(completion.FinishReason),
            Usage = new TokenUsage { PromptTokens = completion.Usage?.InputTokenCount ?? 0, CompletionTokens = completion.Usage?.OutputTokenCount ?? 0 },
            Latency = new BackendLatency { TimeToFirstTokenMs = total, TotalMs = total },
            Backend = Name,
        };
        response.Tokens.AddRange(Tokens(completion.ContentTokenLogProbabilities, request.TopLogprobs, response.Text.Length > 0));
        return response;
    }

    public async IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        double? firstToken = null;
        var finish = "stop";
        TokenUsage? usage = null;
        var updates = _chat.GetStreamingChatMessageContentsAsync(History(request.Messages, request.Prompt), Settings(request), cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (await CallAsync(async () => await updates.MoveNextAsync(), cancellationToken))
            {
                if (updates.Current.InnerContent is not StreamingChatCompletionUpdate update)
                {
                    continue;
                }

                if (update.Usage is { } reported)
                {
                    usage = new TokenUsage { PromptTokens = reported.InputTokenCount, CompletionTokens = reported.OutputTokenCount };
                }

                if (update.FinishReason is { } reason)
                {
                    finish = FinishReason(reason);
                }

                var text = string.Concat(update.ContentUpdate.Select(p => p.Text));
                var tokens = Tokens(update.ContentTokenLogProbabilities, request.TopLogprobs, text.Length > 0);
                if (text.Length > 0 || tokens.Count > 0)
                {
                    firstToken ??= Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    yield return new GenerateChunk { Text = text, Tokens = { tokens }, Model = Info.Model, Backend = Name };
                }
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }

        var total = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        yield return new GenerateChunk
        {
            FinishReason = finish,
            Usage = usage ?? new TokenUsage(),
            Latency = new BackendLatency { TimeToFirstTokenMs = firstToken ?? total, TotalMs = total },
            Model = Info.Model,
            Backend = Name,
        };
    }

    public async Task<ScoreResponse> ScoreAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var generate = new GenerateRequest { MaxTokens = 1, Temperature = 0, TopLogprobs = 20, Prompt = request.Prompt };
        generate.Messages.AddRange(request.Messages);
        var response = await GenerateAsync(generate, cancellationToken);
        var first = response.Tokens.FirstOrDefault() ?? throw Status(StatusCode.Internal, "returned no token to score");
        return new ScoreResponse
        {
            Model = Info.Model,
            Candidates = { CandidateScores.From(first, request.Candidates) },
            Usage = response.Usage,
            Latency = new BackendLatency { TotalMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds },
        };
    }

    private static ChatHistory History(IEnumerable<ChatMessage> messages, string prompt)
    {
        var history = new ChatHistory();
        foreach (var message in messages)
        {
            history.AddMessage(message.Role switch
            {
                "system" or "developer" => AuthorRole.System,
                "assistant" => AuthorRole.Assistant,
                "tool" => AuthorRole.Tool,
                _ => AuthorRole.User,
            }, message.Content);
        }

        if (history.Count == 0)
        {
            history.AddUserMessage(prompt);
        }

        return history;
    }

    private static OpenAIPromptExecutionSettings Settings(GenerateRequest request)
    {
        var settings = new OpenAIPromptExecutionSettings
        {
            MaxTokens = request.MaxTokens > 0 ? request.MaxTokens : 512,
            Logprobs = true,
            TopLogprobs = request.TopLogprobs,
        };
        if (request.HasTemperature)
        {
            settings.Temperature = request.Temperature;
        }

        if (request.HasTopP)
        {
            settings.TopP = request.TopP;
        }

        if (request.HasSeed)
        {
            settings.Seed = request.Seed;
        }

        if (request.Stop.Count > 0)
        {
            settings.StopSequences = [.. request.Stop];
        }

        return settings;
    }

    private List<TokenLogprob> Tokens(IReadOnlyList<ChatTokenLogProbabilityDetails>? details, int topLogprobs, bool requireLogprobs)
    {
        if (details is not { Count: > 0 })
        {
            return requireLogprobs
                ? throw Status(StatusCode.FailedPrecondition, "returned no logprobs; the router needs them (the model or deployment may not support logprobs)")
                : [];
        }

        return [.. details.Select(d =>
        {
            var token = new TokenLogprob { Token = d.Token, Logprob = d.LogProbability };
            token.TopLogprobs.AddRange(d.TopLogProbabilities.Take(topLogprobs).Select(t => new TokenAlternative { Token = t.Token, Logprob = t.LogProbability }));
            return token;
        })];
    }

    /// <summary>Runs a connector call, turning its failures into gRPC statuses that name this backend.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (HttpOperationException e) when (e.StatusCode is { } status)
        {
            throw BackendErrors.FromHttp(Name, _options.Endpoint, _options.BackendModel ?? _options.Model, status, e.ResponseContent ?? e.Message);
        }
        catch (HttpOperationException e) when (e.InnerException is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Status(StatusCode.DeadlineExceeded, $"did not answer within Worker:RequestTimeout ({_options.RequestTimeout.TotalSeconds:0.#} s)");
        }
        catch (HttpOperationException e) when (e.InnerException is HttpRequestException)
        {
            throw Status(StatusCode.Unavailable, $"is unreachable: {e.InnerException.Message}");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or KernelException && !cancellationToken.IsCancellationRequested)
        {
            throw Status(StatusCode.Internal, $"returned malformed JSON or an unexpected response: {e.Message}");
        }
    }

    private static string FinishReason(ChatFinishReason reason) => reason switch
    {
        ChatFinishReason.Length => "length",
        ChatFinishReason.ContentFilter => "content_filter",
        ChatFinishReason.ToolCalls or ChatFinishReason.FunctionCall => "tool_calls",
        _ => "stop",
    };

    private RpcException Status(StatusCode code, string cause) => BackendErrors.Status(Name, _options.Endpoint, code, cause);
}
