using System.Text.Json;
using System.Text.Json.Serialization;

namespace Router.Gateway.Routing;

/// <summary>OpenAI's chat completion request, plus the router's optional <see cref="Router"/> overrides.</summary>
public sealed class ChatCompletionRequest
{
    public string? Model { get; set; }

    public List<ChatMessageDto>? Messages { get; set; }

    public int? MaxTokens { get; set; }

    /// <summary>OpenAI's newer name for <see cref="MaxTokens"/>.</summary>
    public int? MaxCompletionTokens { get; set; }

    public double? Temperature { get; set; }

    public bool Stream { get; set; }

    /// <summary>A string or an array of strings, as in OpenAI's API.</summary>
    public JsonElement? Stop { get; set; }

    public int? Seed { get; set; }

    public bool? Logprobs { get; set; }

    public int? TopLogprobs { get; set; }

    public string? User { get; set; }

    /// <summary>OpenAI allows 1-128 choices; the router returns one answer per request, so only 1 is accepted.</summary>
    public int? N { get; set; }

    /// <summary>Nucleus sampling is not passed to workers: only OpenAI's default (1) is accepted.</summary>
    public double? TopP { get; set; }

    public double? FrequencyPenalty { get; set; }

    public double? PresencePenalty { get; set; }

    /// <summary>Token id to bias (-100..100), as in OpenAI's API; workers do not take biases, so only an empty map is accepted.</summary>
    public Dictionary<string, double>? LogitBias { get; set; }

    /// <summary>{"type": "text"} is what the router produces; JSON modes are not supported.</summary>
    public JsonElement? ResponseFormat { get; set; }

    public StreamOptions? StreamOptions { get; set; }

    public RouterOverrides? Router { get; set; }

    /// <summary>Every other field the caller sent: an OpenAI parameter the router does not support, or one OpenAI does not have.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherFields { get; set; }
}

public sealed class StreamOptions
{
    /// <summary>Accepted either way: the final chunk always carries usage (clients that did not ask for it ignore the field).</summary>
    public bool? IncludeUsage { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherFields { get; set; }
}

public sealed class ChatMessageDto
{
    public string? Role { get; set; }

    /// <summary>A string, or an array of content parts of which the text parts are used.</summary>
    public JsonElement? Content { get; set; }
}

/// <summary>Per-request limits a caller may set; each narrows, never widens, what the policy allows.</summary>
public sealed class RouterOverrides
{
    public decimal? MaxCostUsd { get; set; }

    public double? MaxLatencyMs { get; set; }

    public double? MinConfidence { get; set; }

    /// <summary>cascade | pre-call | hybrid; default: the policy's own mode.</summary>
    public string? Mode { get; set; }

    /// <summary>Task family used to pick calibrators (e.g. "mmlu"), when the caller knows it.</summary>
    public string? TaskFamily { get; set; }

    /// <summary>Options of a multiple-choice question ("A".."D"), enabling the answer-option signal.</summary>
    public List<string>? Options { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherFields { get; set; }
}

public sealed record ChatCompletionResponse(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChatChoice> Choices,
    UsageDto Usage,
    RoutingSummary Router);

public sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason, ChoiceLogprobs? Logprobs);

public sealed record AssistantMessage(string Role, string Content);

public sealed record ChoiceLogprobs(IReadOnlyList<TokenLogprobDto> Content);

public sealed record TokenLogprobDto(string Token, double Logprob, IReadOnlyList<TopLogprobDto> TopLogprobs);

public sealed record TopLogprobDto(string Token, double Logprob);

public sealed record UsageDto(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>The `router` extension object of a completion: which model answered and why.</summary>
public sealed record RoutingSummary(
    string RequestId,
    string Policy,
    string PolicyVersion,
    string Mode,
    string ModelUsed,
    IReadOnlyList<string> StagesTried,
    double? Confidence,
    IReadOnlyList<string> EscalationReasons,
    decimal CostUsd,
    decimal CounterfactualCostUsd,
    decimal SavingsUsd,
    bool Simulated);

public sealed record ChatCompletionChunk(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChunkChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageDto? Usage = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RoutingSummary? Router = null);

public sealed record ChunkChoice(
    int Index,
    ChunkDelta Delta,
    string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ChoiceLogprobs? Logprobs = null);

public sealed record ChunkDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);
