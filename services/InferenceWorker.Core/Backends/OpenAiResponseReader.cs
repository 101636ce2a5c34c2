using System.Text.Json;
using Google.Protobuf.Collections;
using Router.Contracts;

namespace Router.InferenceWorker.Backends;

/// <summary>
/// Reads an OpenAI-style completion, or one streamed chunk of it, in a single forward pass over its
/// UTF-8 bytes, building the router's token log-probs as it goes: with top-k alternatives a
/// response is mostly log-probs, and a document model of it would be built only to be walked once.
/// Kept: the first choice's text, finish reason and log-probs (chat's <c>logprobs.content</c> or
/// the legacy <c>tokens</c> / <c>token_logprobs</c> / <c>top_logprobs</c> arrays), and the usage.
/// Everything else is skipped, properties may come in any order, null counts as absent, and of a
/// repeated property the last one counts, as System.Text.Json's document models take it.
/// </summary>
/// <param name="chat">The chat shape (<c>message</c> or <c>delta</c>, <c>logprobs.content</c>) rather than the legacy completions shape.</param>
/// <param name="streamed">A streamed chunk, whose chat text is under <c>delta</c> rather than <c>message</c>.</param>
/// <param name="topLogprobs">How many alternatives to keep per token.</param>
internal sealed class OpenAiResponseReader(bool chat, bool streamed, int topLogprobs)
{
    private delegate Checked<T> ValueReader<T>(ref Utf8JsonReader reader);

    private string TextPath => chat ? streamed ? "choices[0].delta.content" : "choices[0].message.content" : "choices[0].text";

    /// <summary>The response; null when the body is well-formed JSON but not an object.</summary>
    /// <exception cref="JsonException">The body is not well-formed JSON, with the message a document parse gives.</exception>
    public OpenAiResponse? Read(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        reader.Read();
        OpenAiResponse? response = null;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            response = ReadResponse(ref reader);
        }
        else
        {
            reader.Skip();
        }

        // Anything after the first value makes the body malformed.
        reader.Read();
        return response;
    }

    private OpenAiResponse ReadResponse(ref Utf8JsonReader reader)
    {
        OpenAiChoice? choice = null;
        Checked<TokenUsage?> usage = default;
        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, "choices"u8))
            {
                choice = ReadFirstChoice(ref reader);
            }
            else if (MoveToValueOf(ref reader, "usage"u8))
            {
                usage = ReadUsage(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return new OpenAiResponse(choice, usage);
    }

    private OpenAiChoice? ReadFirstChoice(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return null;
        }

        OpenAiChoice? first = null;
        while (NextElement(ref reader))
        {
            if (first is null)
            {
                first = ReadChoice(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return first;
    }

    private OpenAiChoice ReadChoice(ref Utf8JsonReader reader)
    {
        Checked<string?> text = default;
        Checked<string?> finishReason = default;
        Checked<List<TokenLogprob>>? logprobs = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return new OpenAiChoice(text, finishReason, logprobs);
        }

        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, chat ? streamed ? "delta"u8 : "message"u8 : "text"u8))
            {
                text = (chat ? ReadContent(ref reader) : ReadString(ref reader)).At(TextPath);
            }
            else if (MoveToValueOf(ref reader, "finish_reason"u8))
            {
                finishReason = ReadString(ref reader).At("choices[0].finish_reason");
            }
            else if (MoveToValueOf(ref reader, "logprobs"u8))
            {
                logprobs = reader.TokenType == JsonTokenType.Null ? null : chat ? ReadChatLogprobs(ref reader) : ReadCompletionLogprobs(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return new OpenAiChoice(text, finishReason, logprobs);
    }

    /// <summary>A chat message's (or delta's) content; a message that is not an object has none.</summary>
    private static Checked<string?> ReadContent(ref Utf8JsonReader reader) => ReadProperty(ref reader, "content"u8, ReadString, default);

    /// <summary>Usage of any other type than an object counts as absent; a count that is null counts as 0.</summary>
    private static Checked<TokenUsage?> ReadUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return default;
        }

        var prompt = Checked<int>.Of(0);
        var completion = Checked<int>.Of(0);
        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, "prompt_tokens"u8))
            {
                prompt = ReadCount(ref reader).At("usage.prompt_tokens");
            }
            else if (MoveToValueOf(ref reader, "completion_tokens"u8))
            {
                completion = ReadCount(ref reader).At("usage.completion_tokens");
            }
            else
            {
                reader.Skip();
            }
        }

        return (prompt.Problem ?? completion.Problem) is { } problem
            ? Checked<TokenUsage?>.Fail(problem)
            : Checked<TokenUsage?>.Of(new TokenUsage { PromptTokens = prompt.Value, CompletionTokens = completion.Value });
    }

    /// <summary>Chat log-probs: <c>{content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}</c>; without a content array, no tokens.</summary>
    private Checked<List<TokenLogprob>> ReadChatLogprobs(ref Utf8JsonReader reader) =>
        ReadProperty(ref reader, "content"u8, ReadChatContent, Checked<List<TokenLogprob>>.Of([]));

    private Checked<List<TokenLogprob>> ReadChatContent(ref Utf8JsonReader reader)
    {
        var tokens = new List<TokenLogprob>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return Checked<List<TokenLogprob>>.Of(tokens);
        }

        string? problem = null;
        for (var i = 0; NextElement(ref reader); i++)
        {
            var token = new TokenLogprob();
            var entry = ReadChatEntry(ref reader, token.TopLogprobs);
            if (entry.Problem is { } wrong)
            {
                problem ??= $"logprobs.content[{i}]{wrong}";
            }
            else
            {
                (token.Token, token.Logprob) = entry.Value;
                tokens.Add(token);
            }
        }

        return problem is null ? Checked<List<TokenLogprob>>.Of(tokens) : Checked<List<TokenLogprob>>.Fail(problem);
    }

    /// <summary>
    /// One chat log-prob, a token or one of its alternatives: the same object, but a token's
    /// alternatives go to <paramref name="alternatives"/> and an alternative's own are not read.
    /// </summary>
    private Checked<(string Token, double Logprob)> ReadChatEntry(ref Utf8JsonReader reader, RepeatedField<TokenAlternative>? alternatives)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return Found<(string, double)>(ref reader, "an object");
        }

        var token = Checked<string?>.Fail(" has no token");
        var logprob = Checked<double>.Of(double.NegativeInfinity);
        string? alternativesProblem = null;
        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, "token"u8))
            {
                token = ReadToken(ref reader).At(".token");
            }
            else if (MoveToValueOf(ref reader, "logprob"u8))
            {
                logprob = ReadLogprob(ref reader).At(".logprob");
            }
            else if (alternatives is not null && MoveToValueOf(ref reader, "top_logprobs"u8))
            {
                alternativesProblem = ReadChatAlternatives(ref reader, alternatives);
            }
            else
            {
                reader.Skip();
            }
        }

        return (token.Problem ?? logprob.Problem ?? alternativesProblem) is { } problem
            ? Checked<(string, double)>.Fail(problem)
            : Checked<(string, double)>.Of((token.Value!, logprob.Value));
    }

    /// <summary>The first k alternatives in the order sent (the server sends them best first); the rest are skipped unread.</summary>
    private string? ReadChatAlternatives(ref Utf8JsonReader reader, RepeatedField<TokenAlternative> alternatives)
    {
        alternatives.Clear();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return null;
        }

        string? problem = null;
        for (var i = 0; NextElement(ref reader); i++)
        {
            if (i >= topLogprobs)
            {
                reader.Skip();
                continue;
            }

            var alternative = ReadChatEntry(ref reader, alternatives: null);
            if (alternative.Problem is { } wrong)
            {
                problem ??= $".top_logprobs[{i}]{wrong}";
            }
            else
            {
                alternatives.Add(new TokenAlternative { Token = alternative.Value.Token, Logprob = alternative.Value.Logprob });
            }
        }

        return problem;
    }

    /// <summary>
    /// Legacy log-probs: parallel arrays <c>tokens</c>, <c>token_logprobs</c> and <c>top_logprobs</c>
    /// (one <c>{token: logprob}</c> object per token), which may come in any order, so each is read
    /// whole and they are joined at the end. Without a tokens array there are no tokens.
    /// </summary>
    private Checked<List<TokenLogprob>> ReadCompletionLogprobs(ref Utf8JsonReader reader)
    {
        var none = Checked<List<TokenLogprob>>.Of([]);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return none;
        }

        Checked<List<Checked<string?>>>? tokens = null;
        Checked<List<Checked<double>>>? values = null;
        Checked<List<Checked<TokenLogprob?>>>? tops = null;
        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, "tokens"u8))
            {
                tokens = ReadArray(ref reader, ReadToken);
            }
            else if (MoveToValueOf(ref reader, "token_logprobs"u8))
            {
                values = ReadArray(ref reader, ReadLogprob);
            }
            else if (MoveToValueOf(ref reader, "top_logprobs"u8))
            {
                tops = ReadArray(ref reader, ReadCompletionAlternatives);
            }
            else
            {
                reader.Skip();
            }
        }

        if (tokens is not { Problem: null } texts)
        {
            return none;
        }

        return values is { } logprobs
            ? Join(texts.Value, logprobs, tops is { Problem: null } alternatives ? alternatives.Value : null)
            : Checked<List<TokenLogprob>>.Fail("logprobs has no token_logprobs");
    }

    /// <summary>Token i of the legacy arrays; where they disagree, the first token that cannot be built names the problem.</summary>
    private static Checked<List<TokenLogprob>> Join(List<Checked<string?>> texts, Checked<List<Checked<double>>> values, List<Checked<TokenLogprob?>>? tops)
    {
        var tokens = new List<TokenLogprob>(texts.Count);
        for (var i = 0; i < texts.Count; i++)
        {
            var problem = texts[i].Problem is { } text ? $"logprobs.tokens[{i}]{text}"
                : values.Problem is { } notArray ? $"logprobs.token_logprobs{notArray}"
                : i >= values.Value.Count ? $"logprobs.token_logprobs is shorter than logprobs.tokens ({values.Value.Count} < {texts.Count})"
                : values.Value[i].Problem is { } value ? $"logprobs.token_logprobs[{i}]{value}"
                : tops is not null && i >= tops.Count ? $"logprobs.top_logprobs is shorter than logprobs.tokens ({tops.Count} < {texts.Count})"
                : tops?[i].Problem is { } top ? $"logprobs.top_logprobs[{i}]{top}"
                : null;
            if (problem is not null)
            {
                return Checked<List<TokenLogprob>>.Fail(problem);
            }

            var token = tops?[i].Value ?? new TokenLogprob();
            token.Token = texts[i].Value!;
            token.Logprob = values.Value[i].Value;
            tokens.Add(token);
        }

        return Checked<List<TokenLogprob>>.Of(tokens);
    }

    /// <summary>
    /// One token's alternatives as a legacy <c>{token: logprob}</c> object, held in a token ready to
    /// be filled in: the k highest, and of equal log-probs the first sent. Anything but an object
    /// means no alternatives.
    /// </summary>
    private Checked<TokenLogprob?> ReadCompletionAlternatives(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return Checked<TokenLogprob?>.Of(null);
        }

        var token = new TokenLogprob();
        string? problem = null;
        while (NextProperty(ref reader))
        {
            var name = ReadString(ref reader);
            reader.Read();
            var logprob = ReadLogprob(ref reader);
            if (name.Problem is { } badName)
            {
                problem ??= $" has a name that{badName}";
            }
            else if (logprob.Problem is { } badValue)
            {
                problem ??= $"[\"{name.Value}\"]{badValue}";
            }
            else
            {
                Keep(token.TopLogprobs, new TokenAlternative { Token = name.Value!, Logprob = logprob.Value });
            }
        }

        return problem is null ? Checked<TokenLogprob?>.Of(token) : Checked<TokenLogprob?>.Fail(problem);
    }

    /// <summary>
    /// Adds an alternative where a stable sort of all of them, highest first, would put it, keeping
    /// no more than k: the legacy object has no order, and inserting in place spares a buffer and a
    /// sort per token.
    /// </summary>
    private void Keep(RepeatedField<TokenAlternative> kept, TokenAlternative alternative)
    {
        var at = kept.Count;
        while (at > 0 && kept[at - 1].Logprob < alternative.Logprob)
        {
            at--;
        }

        if (at < topLogprobs)
        {
            kept.Insert(at, alternative);
            if (kept.Count > topLogprobs)
            {
                kept.RemoveAt(topLogprobs);
            }
        }
    }

    /// <summary>The one property of an object that is read; anything but an object, or an object without it, gives <paramref name="absent"/>.</summary>
    private static Checked<T> ReadProperty<T>(ref Utf8JsonReader reader, ReadOnlySpan<byte> name, ValueReader<T> read, Checked<T> absent)
    {
        var value = absent;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return value;
        }

        while (NextProperty(ref reader))
        {
            if (MoveToValueOf(ref reader, name))
            {
                value = read(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return value;
    }

    private static Checked<List<Checked<T>>> ReadArray<T>(ref Utf8JsonReader reader, ValueReader<T> read)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return Found<List<Checked<T>>>(ref reader, "an array");
        }

        var items = new List<Checked<T>>();
        while (NextElement(ref reader))
        {
            items.Add(read(ref reader));
        }

        return Checked<List<Checked<T>>>.Of(items);
    }

    /// <summary>A string value, or a property name; null is null.</summary>
    private static Checked<string?> ReadString(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return default;
            case JsonTokenType.String or JsonTokenType.PropertyName:
                try
                {
                    return Checked<string?>.Of(reader.GetString());
                }
                catch (InvalidOperationException e)
                {
                    return Checked<string?>.Fail($" cannot be read as text: {e.Message}");
                }

            default:
                return Found<string?>(ref reader, "a string");
        }
    }

    /// <summary>A token's text, which unlike other strings cannot be null.</summary>
    private static Checked<string?> ReadToken(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Null ? Checked<string?>.Fail(" is null") : ReadString(ref reader);

    /// <summary>A log-prob; vLLM writes -inf as a very negative number or, in some versions, as null for tokens outside the vocabulary mask, so anything but a number is -inf.</summary>
    private static Checked<double> ReadLogprob(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.Number)
        {
            reader.Skip();
            return Checked<double>.Of(double.NegativeInfinity);
        }

        return reader.TryGetDouble(out var logprob) ? Checked<double>.Of(logprob) : Checked<double>.Fail(" is not a double");
    }

    /// <summary>A token count; null counts as 0.</summary>
    private static Checked<int> ReadCount(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Null => Checked<int>.Of(0),
        JsonTokenType.Number => reader.TryGetInt32(out var count) ? Checked<int>.Of(count) : Checked<int>.Fail(" is not a 32-bit integer"),
        _ => Found<int>(ref reader, "a number"),
    };

    /// <summary>The value the reader is on is not what was expected: skipped, and named in the problem.</summary>
    private static Checked<T> Found<T>(ref Utf8JsonReader reader, string expected)
    {
        var found = reader.TokenType switch
        {
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            _ => "null",
        };
        reader.Skip();
        return Checked<T>.Fail($" is {found}, not {expected}");
    }

    /// <summary>Moves to the next property name of the object the reader is in; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader) => reader.Read() && reader.TokenType == JsonTokenType.PropertyName;

    /// <summary>Moves to the next element of the array the reader is in; false at its end.</summary>
    private static bool NextElement(ref Utf8JsonReader reader) => reader.Read() && reader.TokenType != JsonTokenType.EndArray;

    /// <summary>When the reader is on a property called <paramref name="name"/>, moves it to the value.</summary>
    private static bool MoveToValueOf(ref Utf8JsonReader reader, ReadOnlySpan<byte> name) =>
        (reader.ValueIsEscaped ? EscapedNameIs(ref reader, name) : reader.ValueTextEquals(name)) && reader.Read();

    /// <summary>A name whose escapes make no text (a lone surrogate) can be none of the names read, so it is skipped like any unknown property rather than failing the read.</summary>
    private static bool EscapedNameIs(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        try
        {
            return reader.ValueTextEquals(name);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>A completion response or streamed chunk, as far as the router reads it.</summary>
/// <param name="FirstChoice"><c>choices[0]</c>; null when <c>choices</c> is absent, not an array or empty.</param>
/// <param name="Usage"><c>usage</c>; null when absent or not an object.</param>
internal sealed record OpenAiResponse(OpenAiChoice? FirstChoice, Checked<TokenUsage?> Usage);

/// <summary>The first choice of a response, as far as the router reads it.</summary>
/// <param name="Text">The message's content (chat) or the text (legacy completions); null when absent.</param>
/// <param name="FinishReason">Null when absent.</param>
/// <param name="Logprobs">The tokens with their alternatives; null when the choice has no logprobs.</param>
internal sealed record OpenAiChoice(Checked<string?> Text, Checked<string?> FinishReason, Checked<List<TokenLogprob>>? Logprobs);

/// <summary>
/// A value read from a response, or what is wrong with it. The problem surfaces where the value is
/// used, not where it was read: malformed JSON anywhere in the body is found first, and of the
/// rest the caller meets first what it asks for first, whatever order the properties came in.
/// </summary>
internal readonly struct Checked<T>
{
    private readonly T _value;

    private Checked(T value, string? problem) => (_value, Problem) = (value, problem);

    /// <summary>What is wrong, worded to follow the value's path: " is a number, not a string".</summary>
    public string? Problem { get; }

    /// <summary>The value; one that was wrong throws, so callers read <see cref="Problem"/> first and answer it with a status of their own.</summary>
    public T Value => Problem is null ? _value : throw new InvalidOperationException(Problem);

    public static Checked<T> Of(T value) => new(value, null);

    public static Checked<T> Fail(string problem) => new(default!, problem);

    /// <summary>The same, with a problem worded from further out, <paramref name="path"/> being the way from there to this value.</summary>
    public Checked<T> At(string path) => Problem is null ? this : Fail(path + Problem);
}
