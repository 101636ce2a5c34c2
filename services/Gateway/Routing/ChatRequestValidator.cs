using System.Text;
using System.Text.Json;

namespace Router.Gateway.Routing;

public enum RoutingMode
{
    Cascade,
    PreCall,
    Hybrid,
}

/// <summary>What the caller's `model` field asks for: a routing policy, or one concrete model (no routing).</summary>
public sealed record RouteTarget(string? Policy, RoutingMode? Mode, string? DirectModel)
{
    public const string AutoPolicy = "auto";
}

public sealed record ChatTurn(string Role, string Content);

/// <summary>A request that passed validation, normalised: what the cascade acts on.</summary>
public sealed record ValidatedChatRequest(
    RouteTarget Target,
    IReadOnlyList<ChatTurn> Messages,
    int MaxTokens,
    double Temperature,
    IReadOnlyList<string> Stop,
    int? Seed,
    bool Stream,
    int TopLogprobs,
    bool ReturnLogprobs,
    int ClientTopLogprobs,
    decimal? MaxCostUsd,
    double? MaxLatencyMs,
    double? MinConfidence,
    string? TaskFamily,
    IReadOnlyList<string> Options);

public sealed record RequestError(string Param, string Message, string Code = "invalid_request");

/// <summary>
/// Checks an OpenAI-style request field by field and names the first bad one; pure, so every rule
/// is unit-tested without a host.
/// </summary>
public static class ChatRequestValidator
{
    public const int DefaultMaxTokens = 512;
    public const int MaxMaxTokens = 32_768;
    public const int MaxMessages = 512;
    public const int MaxStopSequences = 4;

    /// <summary>Alternatives per token the router asks workers for: the DeepConf signals need them.</summary>
    public const int RoutingTopLogprobs = 5;

    private static readonly HashSet<string> Roles = ["system", "user", "assistant", "developer", "tool"];

    public static (ValidatedChatRequest? Request, RequestError? Error) Validate(ChatCompletionRequest request, ISet<string> portfolioModels)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            return Fail("model", "is required: a routing policy ('auto', 'cascade/<policy>', 'pre-call/<policy>', 'hybrid/<policy>') or a model of GET /v1/models.");
        }

        if (ParseTarget(request.Model.Trim(), portfolioModels) is not { } target)
        {
            return Fail("model", $"'{request.Model}' is neither a routing policy nor a model of this router's portfolio (see GET /v1/models).", "model_not_found");
        }

        if (request.Messages is null || request.Messages.Count == 0)
        {
            return Fail("messages", "must contain at least one message.");
        }

        if (request.Messages.Count > MaxMessages)
        {
            return Fail("messages", $"has {request.Messages.Count} messages; at most {MaxMessages} are accepted.");
        }

        var turns = new List<ChatTurn>(request.Messages.Count);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i];
            if (message is null)
            {
                return Fail($"messages[{i}]", "must be an object with 'role' and 'content'.");
            }

            if (message.Role is null || !Roles.Contains(message.Role))
            {
                return Fail($"messages[{i}].role", $"must be one of {string.Join(", ", Roles)}; got '{message.Role}'.");
            }

            var (content, contentError) = ContentText(message.Content);
            if (contentError is not null)
            {
                return Fail($"messages[{i}].content", contentError);
            }

            turns.Add(new ChatTurn(message.Role, content!));
        }

        if (turns.All(t => t.Role is "system" or "developer"))
        {
            return Fail("messages", "must contain at least one user or assistant message.");
        }

        if (request.MaxTokens is not null && request.MaxCompletionTokens is not null && request.MaxTokens != request.MaxCompletionTokens)
        {
            return Fail("max_tokens", "and max_completion_tokens disagree; send one of them.");
        }

        var maxTokens = request.MaxCompletionTokens ?? request.MaxTokens ?? DefaultMaxTokens;
        if (maxTokens is < 1 or > MaxMaxTokens)
        {
            return Fail(request.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens", $"must be between 1 and {MaxMaxTokens}; got {maxTokens}.");
        }

        var temperature = request.Temperature ?? 0.0;
        if (!double.IsFinite(temperature) || temperature is < 0 or > 2)
        {
            return Fail("temperature", $"must be between 0 and 2; got {temperature}.");
        }

        var (stop, stopError) = StopSequences(request.Stop);
        if (stopError is not null)
        {
            return Fail("stop", stopError);
        }

        if (request.TopLogprobs is < 0 or > 20)
        {
            return Fail("top_logprobs", $"must be between 0 and 20; got {request.TopLogprobs}.");
        }

        if (request.TopLogprobs is > 0 && request.Logprobs != true)
        {
            return Fail("top_logprobs", "requires logprobs: true.");
        }

        var overrides = request.Router ?? new RouterOverrides();
        if (overrides.MaxCostUsd is < 0)
        {
            return Fail("router.max_cost_usd", $"must be >= 0; got {overrides.MaxCostUsd}.");
        }

        if (overrides.MaxLatencyMs is { } latency && (!double.IsFinite(latency) || latency <= 0))
        {
            return Fail("router.max_latency_ms", $"must be a positive number of milliseconds; got {latency}.");
        }

        if (overrides.MinConfidence is { } minConfidence && (!double.IsFinite(minConfidence) || minConfidence is < 0 or > 1))
        {
            return Fail("router.min_confidence", $"must be between 0 and 1; got {minConfidence}.");
        }

        if (overrides.Mode is not null)
        {
            if (target.DirectModel is not null)
            {
                return Fail("router.mode", $"cannot be set when model names a concrete model ('{target.DirectModel}'), which bypasses routing.");
            }

            if (ParseMode(overrides.Mode) is not { } mode)
            {
                return Fail("router.mode", $"must be cascade, pre-call or hybrid; got '{overrides.Mode}'.");
            }

            target = target with { Mode = mode };
        }

        var options = overrides.Options ?? [];
        if (options.Any(string.IsNullOrWhiteSpace) || options.Count > 26)
        {
            return Fail("router.options", "must be at most 26 non-empty option labels (e.g. [\"A\",\"B\",\"C\",\"D\"]).");
        }

        return (new ValidatedChatRequest(
            target,
            turns,
            maxTokens,
            temperature,
            stop,
            request.Seed,
            request.Stream,
            Math.Max(RoutingTopLogprobs, request.TopLogprobs ?? 0),
            request.Logprobs == true,
            request.TopLogprobs ?? 0,
            overrides.MaxCostUsd,
            overrides.MaxLatencyMs,
            overrides.MinConfidence,
            string.IsNullOrWhiteSpace(overrides.TaskFamily) ? null : overrides.TaskFamily.Trim(),
            options), null);
    }

    public static RoutingMode? ParseMode(string text) => text.ToLowerInvariant() switch
    {
        "cascade" => RoutingMode.Cascade,
        "pre-call" or "precall" => RoutingMode.PreCall,
        "hybrid" => RoutingMode.Hybrid,
        _ => null,
    };

    private static RouteTarget? ParseTarget(string model, ISet<string> portfolioModels)
    {
        if (string.Equals(model, RouteTarget.AutoPolicy, StringComparison.OrdinalIgnoreCase))
        {
            return new RouteTarget(RouteTarget.AutoPolicy, null, null);
        }

        if (portfolioModels.Contains(model))
        {
            return new RouteTarget(null, null, model);
        }

        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == model.Length - 1)
        {
            return null;
        }

        return ParseMode(model[..slash]) is { } mode ? new RouteTarget(model[(slash + 1)..], mode, null) : null;
    }

    private static (string? Text, string? Error) ContentText(JsonElement? content)
    {
        switch (content)
        {
            case { ValueKind: JsonValueKind.String } text:
                return (text.GetString(), null);
            case { ValueKind: JsonValueKind.Array } parts:
                var builder = new StringBuilder();
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object
                        || !part.TryGetProperty("type", out var type)
                        || type.ValueKind != JsonValueKind.String)
                    {
                        return (null, "content parts must be objects with a 'type'.");
                    }

                    if (type.GetString() != "text")
                    {
                        return (null, $"content part type '{type.GetString()}' is not supported; only 'text'.");
                    }

                    if (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                    {
                        return (null, "a text content part needs a string 'text'.");
                    }

                    builder.Append(partText.GetString());
                }

                return (builder.ToString(), null);
            default:
                return (null, "must be a string or an array of text parts.");
        }
    }

    private static (IReadOnlyList<string> Stop, string? Error) StopSequences(JsonElement? stop)
    {
        switch (stop)
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return ([], null);
            case { ValueKind: JsonValueKind.String } one:
                return string.IsNullOrEmpty(one.GetString()) ? ([], "must not be empty.") : ([one.GetString()!], null);
            case { ValueKind: JsonValueKind.Array } many:
                var list = new List<string>();
                foreach (var item in many.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(item.GetString()))
                    {
                        return ([], "must be a string or an array of non-empty strings.");
                    }

                    list.Add(item.GetString()!);
                }

                return list.Count > MaxStopSequences ? ([], $"accepts at most {MaxStopSequences} sequences.") : (list, null);
            default:
                return ([], "must be a string or an array of non-empty strings.");
        }
    }

    private static (ValidatedChatRequest?, RequestError?) Fail(string param, string message, string code = "invalid_request") =>
        (null, new RequestError(param, $"{param} {message}", code));
}
