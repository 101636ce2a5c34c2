using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

/// <summary>
/// Reads a JSON request body for any endpoint and turns every way it can be wrong into OpenAI's
/// error JSON naming the field: too large (413) or too slow (408), empty, not JSON, not an object,
/// text that is not Unicode (invalid UTF-8, an unpaired surrogate escape), a value of the wrong
/// type or out of range. Messages are written here, never taken from the serializer, whose
/// wording names .NET types.
/// </summary>
public static class JsonBody
{
    private const int PreallocatedBodyBytes = 64 * 1024;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>The body as <typeparamref name="T"/>; an empty body is <paramref name="empty"/> when given, else a 400.</summary>
    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpContext context, JsonSerializerOptions serializer, Func<T>? empty = null)
        where T : class
    {
        byte[] bytes;
        try
        {
            bytes = await ReadBodyAsync(context.Request, context.RequestAborted);
        }
        catch (BadHttpRequestException e)
        {
            return (null, ErrorResponses.FromBadHttpRequest(e));
        }

        return Parse<T>(bytes, serializer, empty);
    }

    /// <summary>
    /// The whole body, read straight into an array of its declared length when that is small. A
    /// larger one grows with what arrives, so a client that declares megabytes and sends them slowly
    /// holds no more memory than it has sent; Kestrel refuses one over the size limit (413).
    /// </summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } length && length <= PreallocatedBodyBytes)
        {
            var bytes = new byte[length];
            var read = await request.Body.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, cancellationToken);
            return read == bytes.Length ? bytes : bytes[..read];
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    /// <summary>The parsing half of <see cref="ReadAsync"/>, without I/O.</summary>
    public static (T? Value, IResult? Error) Parse<T>(ReadOnlyMemory<byte> bytes, JsonSerializerOptions serializer, Func<T>? empty = null)
        where T : class
    {
        if (IsBlank(bytes.Span))
        {
            return empty is not null
                ? (empty(), null)
                : (null, OpenAiError.BadRequest("The request body is empty: send a JSON object (Content-Type: application/json).", null, "missing_body"));
        }

        if (IsWellFormedObject(bytes.Span))
        {
            try
            {
                return (JsonSerializer.Deserialize<T>(bytes.Span, serializer), null);
            }
            catch (JsonException)
            {
                // A value of the wrong type: the refusal below names its field and what it expects.
            }
        }

        return Refusal<T>(bytes, serializer);
    }

    /// <summary>
    /// One pass of a reader, with no document and no strings for text that needs no unescaping: true
    /// when the body is a JSON object whose text all decodes to valid Unicode. Anything else goes to
    /// <see cref="Refusal"/>, which takes the body apart to name what is wrong.
    /// </summary>
    private static bool IsWellFormedObject(ReadOnlySpan<byte> bytes)
    {
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && !IsUnicode(ref reader))
                {
                    return false;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsUnicode(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        try
        {
            return !HasLoneSurrogate(reader.GetString()!);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Why the body is refused, naming the field; a body that turns out well-formed is read as usual.</summary>
    private static (T? Value, IResult? Error) Refusal<T>(ReadOnlyMemory<byte> bytes, JsonSerializerOptions serializer)
        where T : class
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, DocumentOptions);
        }
        catch (JsonException e)
        {
            var param = SyntaxErrorField<T>(bytes.Span, serializer);
            return (null, OpenAiError.BadRequest(
                $"The request body is not valid JSON ({Reason(e)} at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}{(param is null ? string.Empty : $", in '{param}'")}).",
                param,
                "invalid_json"));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, OpenAiError.BadRequest($"The request body must be a JSON object; got {Kind(root)}.", null, "invalid_json"));
            }

            if (FirstInvalidText(root, string.Empty) is { } badText)
            {
                var field = OpenAiError.Field(badText);
                return (null, OpenAiError.BadRequest(
                    $"{field} is not valid Unicode text: it holds invalid UTF-8 or an unpaired surrogate escape such as \\ud800.",
                    field,
                    "invalid_text"));
            }

            try
            {
                return (JsonSerializer.Deserialize<T>(bytes.Span, serializer), null);
            }
            catch (JsonException e)
            {
                return (null, WrongValue(root, typeof(T), serializer, e.Path));
            }
        }
    }

    /// <summary>A 400 naming the first field the caller sent that the request does not have; null when there is none.</summary>
    public static IResult? UnknownField(Dictionary<string, JsonElement>? others, string fields) =>
        others?.Keys.FirstOrDefault() is { } name
            ? OpenAiError.BadRequest($"{OpenAiError.Field(name)} is not a field of this request; the fields are {fields}.", OpenAiError.Field(name), "unknown_parameter")
            : null;

    private static bool IsBlank(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The field the syntax error is in, as far as the serializer got ($.messages[0] for a body cut off there).</summary>
    private static string? SyntaxErrorField<T>(ReadOnlySpan<byte> bytes, JsonSerializerOptions serializer)
    {
        try
        {
            JsonSerializer.Deserialize<T>(bytes, serializer);
            return null;
        }
        catch (JsonException e)
        {
            var segments = Segments(e.Path);
            return segments.Count == 0 ? null : Param(segments);
        }
    }

    private static string Param(List<Segment> segments) =>
        OpenAiError.Field(string.Concat(segments.Select((s, i) => s.Index is { } n ? $"[{n}]" : i == 0 ? s.Name : "." + s.Name)));

    /// <summary>The reader's own reason without its position suffix (the message adds line and byte).</summary>
    private static string Reason(JsonException e)
    {
        var message = e.Message;
        foreach (var suffix in new[] { " Path:", " LineNumber:" })
        {
            var at = message.IndexOf(suffix, StringComparison.Ordinal);
            if (at > 0)
            {
                message = message[..at];
            }
        }

        return message.TrimEnd('.', ' ');
    }

    /// <summary>The path of the first property name or string value that is not valid UTF-16 once decoded; null when all are.</summary>
    private static string? FirstInvalidText(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(() => element.GetString()) ? null : path;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FirstInvalidText(item, $"{path}[{index++}]") is { } inItem)
                    {
                        return inItem;
                    }
                }

                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path.Length == 0 ? "(property name)" : $"{path}.(property name)";
                    }

                    if (FirstInvalidText(property.Value, path.Length == 0 ? name : $"{path}.{name}") is { } inValue)
                    {
                        return inValue;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>False when the text cannot be decoded (invalid UTF-8) or decodes to an unpaired surrogate (an escaped \ud800).</summary>
    private static bool Decodes(Func<string?> read)
    {
        try
        {
            return read() is not { } text || !HasLoneSurrogate(text);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A value the serializer refused: what the field expects and what it got, in OpenAI's words.</summary>
    private static IResult WrongValue(JsonElement root, Type type, JsonSerializerOptions serializer, string? jsonPath)
    {
        var segments = Segments(jsonPath);
        var param = segments.Count == 0 ? null : Param(segments);
        var expected = Expected(serializer, type, segments);
        var got = At(root, segments);
        if (param is null || expected is null || got is null)
        {
            return OpenAiError.BadRequest(
                $"The request body has a value of the wrong type{(param is null ? string.Empty : $" at '{param}'")}.",
                param,
                "invalid_type");
        }

        if (got.Value.ValueKind == JsonValueKind.Number && expected is "an integer" or "a number")
        {
            return OpenAiError.BadRequest(
                $"Invalid value for '{param}': expected {expected} in the supported range, but got {OpenAiError.Shown(got.Value.GetRawText())}.",
                param,
                "invalid_value");
        }

        return OpenAiError.BadRequest($"Invalid type for '{param}': expected {expected}, but got {Kind(got.Value)} instead.", param, "invalid_type");
    }

    private readonly record struct Segment(string? Name, int? Index);

    /// <summary>Splits the serializer's JSON path ($.a.b[0]['c d']) into property names and array indexes.</summary>
    private static List<Segment> Segments(string? jsonPath)
    {
        var segments = new List<Segment>();
        var path = jsonPath ?? "$";
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(new Segment(path[(i + 1)..end], null));
                i = end;
            }
            else if (i + 1 < path.Length && path[i] == '[' && path[i + 1] == '\'')
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                segments.Add(new Segment(path[(i + 2)..end], null));
                i = Math.Min(path.Length, end + 2);
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                end = end < 0 ? path.Length : end;
                segments.Add(int.TryParse(path.AsSpan(i + 1, end - i - 1), out var index) ? new Segment(null, index) : new Segment(path[(i + 1)..end], null));
                i = Math.Min(path.Length, end + 1);
            }
            else
            {
                break;
            }
        }

        return segments;
    }

    /// <summary>What the field at the path expects, from the serializer's own contract of <paramref name="type"/>.</summary>
    private static string? Expected(JsonSerializerOptions serializer, Type type, List<Segment> segments)
    {
        var info = serializer.GetTypeInfo(type);
        foreach (var segment in segments)
        {
            Type? next = info.Kind switch
            {
                JsonTypeInfoKind.Object when segment.Name is { } name => info.Properties.FirstOrDefault(p => string.Equals(
                    p.Name,
                    name,
                    serializer.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))?.PropertyType,
                JsonTypeInfoKind.Enumerable when segment.Index is not null => info.ElementType,
                JsonTypeInfoKind.Dictionary when segment.Name is not null => info.ElementType,
                _ => null,
            };
            if (next is null)
            {
                return null;
            }

            info = serializer.GetTypeInfo(next);
        }

        var target = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        return info.Kind switch
        {
            JsonTypeInfoKind.Object => "an object",
            JsonTypeInfoKind.Dictionary => "an object",
            JsonTypeInfoKind.Enumerable => "an array",
            _ when target == typeof(bool) => "a boolean",
            _ when target == typeof(string) || target.IsEnum => "a string",
            _ when target == typeof(Guid) => "a UUID string",
            _ when target == typeof(int) || target == typeof(long) || target == typeof(short) => "an integer",
            _ when target == typeof(double) || target == typeof(float) || target == typeof(decimal) => "a number",
            _ => null,
        };
    }

    private static JsonElement? At(JsonElement root, List<Segment> segments)
    {
        var element = root;
        foreach (var segment in segments)
        {
            if (segment.Index is { } index && element.ValueKind == JsonValueKind.Array && index < element.GetArrayLength())
            {
                element = element[index];
            }
            else if (segment.Name is { } name && element.ValueKind == JsonValueKind.Object && Property(element, name) is { } value)
            {
                element = value;
            }
            else
            {
                return null;
            }
        }

        return element;
    }

    private static JsonElement? Property(JsonElement element, string name)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

}
