using Router.Domain.Routing;
using System.Text;
using System.Text.Json;
using Router.Gateway.Apis;

namespace Router.Gateway.Routing;

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

    /// <summary>Shortest latency budget accepted: no stage answers sooner.</summary>
    public const double MinLatencyBudgetMs = 100;

    public const double MaxLatencyBudgetMs = 3_600_000;

    public const int MaxUserLength = 256;

    public const int MaxOptionLength = 32;

    private static readonly HashSet<string> Roles = ["system", "user", "assistant", "developer", "tool"];

    /// <summary>
    /// OpenAI parameters the router does not implement, each with the values that mean "off" and so
    /// can be accepted; any other value is a 400 naming the parameter rather than being ignored.
    /// </summary>
    private static readonly Dictionary<string, (Func<JsonElement, bool> IsOff, string Why)> Unsupported = new(StringComparer.Ordinal)
    {
        ["tools"] = (_ => false, "tool calling is not supported"),
        ["tool_choice"] = (v => v.ValueKind == JsonValueKind.String && v.GetString() == "none", "tool calling is not supported"),
        ["functions"] = (_ => false, "function calling is not supported"),
        ["function_call"] = (v => v.ValueKind == JsonValueKind.String && v.GetString() == "none", "function calling is not supported"),
        ["parallel_tool_calls"] = (v => v.ValueKind is JsonValueKind.True or JsonValueKind.False, "tool calling is not supported"),
        ["audio"] = (_ => false, "audio output is not supported"),
        ["modalities"] = (v => v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.GetString() == "text"), "only text output is supported"),
        ["prediction"] = (_ => false, "predicted outputs are not supported"),
        ["reasoning_effort"] = (_ => false, "reasoning effort is not supported"),
        ["verbosity"] = (_ => false, "verbosity is not supported"),
        ["web_search_options"] = (_ => false, "web search is not supported"),
        ["store"] = (v => v.ValueKind == JsonValueKind.False, "stored completions are not supported; every request is in the router's own ledger"),
        ["metadata"] = (_ => false, "stored completions are not supported; every request is in the router's own ledger"),
        ["service_tier"] = (v => v.ValueKind == JsonValueKind.String && v.GetString() is "auto" or "default", "service tiers are not supported"),
    };

    public static (ValidatedChatRequest? Request, RequestError? Error) Validate(ChatCompletionRequest request, ISet<string> portfolioModels)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            return Fail("model", "is required: a routing policy ('auto', 'cascade/<policy>', 'pre-call/<policy>', 'hybrid/<policy>') or a model of GET /v1/models.");
        }

        var model = request.Model.Trim();
        if (NameRule.Model.Problem(model) is { } modelProblem)
        {
            return Fail("model", modelProblem);
        }

        if (ParseTarget(model, portfolioModels) is not { } target)
        {
            return Fail("model", $"{OpenAiError.Shown(model)} is neither a routing policy nor a model of this router's portfolio (see GET /v1/models).", "model_not_found");
        }

        if (target.Policy is { } policy && NameRule.Policy.Problem(policy) is { } policyProblem)
        {
            return Fail("model", $"names policy {OpenAiError.Shown(policy)}, which is not a policy name: it {policyProblem}");
        }

        if (UnsupportedParameter(request) is { } unsupported)
        {
            return (null, unsupported);
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
                return Fail($"messages[{i}].role", $"must be one of {string.Join(", ", Roles)}; got {(message.Role is null ? "none" : OpenAiError.Shown(message.Role))}.");
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

        if (request.User is { Length: > MaxUserLength })
        {
            return Fail("user", $"must be at most {MaxUserLength} characters; got {request.User.Length}.");
        }

        var overrides = request.Router ?? new RouterOverrides();
        if (overrides.OtherFields?.Keys.FirstOrDefault() is { } unknownOption)
        {
            return Fail(
                $"router.{OpenAiError.Field(unknownOption)}",
                "is not a router option; the options are max_cost_usd, max_latency_ms, min_confidence, mode, task_family and options.",
                "unknown_parameter");
        }

        if (overrides.MaxCostUsd is < 0)
        {
            return Fail("router.max_cost_usd", $"must be >= 0; got {overrides.MaxCostUsd}.");
        }

        if (overrides.MaxLatencyMs is { } latency && (!double.IsFinite(latency) || latency is < MinLatencyBudgetMs or > MaxLatencyBudgetMs))
        {
            return Fail("router.max_latency_ms", $"must be between {MinLatencyBudgetMs} and {MaxLatencyBudgetMs} milliseconds (no model answers sooner; a shorter budget could only time every stage out); got {latency}.");
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
                return Fail("router.mode", $"must be cascade, pre-call or hybrid; got {OpenAiError.Shown(overrides.Mode)}.");
            }

            target = target with { Mode = mode };
        }

        var options = overrides.Options ?? [];
        if (options.Any(o => string.IsNullOrWhiteSpace(o) || o.Length > MaxOptionLength) || options.Count > 26)
        {
            return Fail("router.options", $"must be at most 26 non-empty option labels of at most {MaxOptionLength} characters (e.g. [\"A\",\"B\",\"C\",\"D\"]).");
        }

        var taskFamily = string.IsNullOrWhiteSpace(overrides.TaskFamily) ? null : overrides.TaskFamily.Trim();
        if (taskFamily is not null && NameRule.TaskFamily.Problem(taskFamily) is { } familyProblem)
        {
            return Fail("router.task_family", familyProblem);
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
            taskFamily,
            options), null);
    }

    /// <summary>The first OpenAI sampling or output parameter outside OpenAI's range, set to something the router does not do, or unknown.</summary>
    private static RequestError? UnsupportedParameter(ChatCompletionRequest request)
    {
        if (request.N is { } n && n is < 1 or > 128)
        {
            return Error("n", $"must be between 1 and 128; got {n}.");
        }

        if (request.N is > 1)
        {
            return Error("n", $"must be 1: the router answers each request with one model's single choice; got {request.N}.", "unsupported_parameter");
        }

        if (request.TopP is { } topP && (!double.IsFinite(topP) || topP is < 0 or > 1))
        {
            return Error("top_p", $"must be between 0 and 1; got {topP}.");
        }

        if (request.TopP is { } nucleus && nucleus != 1)
        {
            return Error("top_p", $"must be 1 (the default): nucleus sampling is not passed to the workers; got {nucleus}. Use temperature.", "unsupported_parameter");
        }

        foreach (var (name, penalty) in new[] { ("frequency_penalty", request.FrequencyPenalty), ("presence_penalty", request.PresencePenalty) })
        {
            if (penalty is { } value && (!double.IsFinite(value) || value is < -2 or > 2))
            {
                return Error(name, $"must be between -2 and 2; got {value}.");
            }

            if (penalty is { } set && set != 0)
            {
                return Error(name, $"must be 0 (the default): penalties are not passed to the workers; got {set}.", "unsupported_parameter");
            }
        }

        foreach (var (token, bias) in request.LogitBias ?? [])
        {
            if (!int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) || !double.IsFinite(bias) || bias is < -100 or > 100)
            {
                return Error($"logit_bias.{OpenAiError.Field(token)}", $"must map a token id to a bias between -100 and 100; got {bias}.");
            }
        }

        if (request.LogitBias is { Count: > 0 })
        {
            return Error("logit_bias", "must be empty: token biases are not passed to the workers.", "unsupported_parameter");
        }

        if (request.ResponseFormat is { ValueKind: not JsonValueKind.Null } format)
        {
            var type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type is not ("text" or "json_object" or "json_schema"))
            {
                return Error("response_format", "must be an object whose type is text, json_object or json_schema.");
            }

            if (type != "text")
            {
                return Error("response_format", $"type must be text: {type} output is not supported by the router.", "unsupported_parameter");
            }
        }

        if (request.StreamOptions is { } streamOptions)
        {
            if (!request.Stream)
            {
                return Error("stream_options", "is only allowed when stream is true.");
            }

            if (streamOptions.OtherFields?.Keys.FirstOrDefault() is { } unknown)
            {
                return Error($"stream_options.{OpenAiError.Field(unknown)}", "is not a stream option; the option is include_usage.", "unknown_parameter");
            }
        }

        foreach (var (name, value) in request.OtherFields ?? [])
        {
            if (!Unsupported.TryGetValue(name, out var rule))
            {
                return Error(OpenAiError.Field(name), "is not a parameter of the chat completions API (unrecognized request argument).", "unknown_parameter");
            }

            if (value.ValueKind != JsonValueKind.Null && !rule.IsOff(value))
            {
                return Error(name, $"is not supported by this router: {rule.Why}.", "unsupported_parameter");
            }
        }

        return null;
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
                        return (null, $"content part type {OpenAiError.Shown(type.GetString()!)} is not supported; only 'text'.");
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
        (null, Error(param, message, code));

    private static RequestError Error(string param, string message, string code = "invalid_request") =>
        new(param, $"{param} {message}", code);
}
