using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Router.Gateway.Routing;

/// <summary>OpenAI's error body: {"error": {"message", "type", "param", "code"}}.</summary>
public sealed record OpenAiError(OpenAiErrorBody Error)
{
    /// <summary>How much of a caller's text an error message quotes.</summary>
    public const int ShownCharacters = 64;

    public static IResult BadRequest(string message, string? param, string code = "invalid_request") =>
        Result(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static IResult NotFound(string message, string? param, string code) =>
        Result(StatusCodes.Status404NotFound, message, "invalid_request_error", param, code);

    public static IResult Result(int status, string message, string type, string? param, string code) =>
        Results.Json(new OpenAiError(new OpenAiErrorBody(message, type, param, code)), statusCode: status);

    /// <summary>
    /// The caller's text as an error message quotes it: in quotes, control characters escaped, and
    /// cut after <see cref="ShownCharacters"/> characters with the full length, so a 100,000-character
    /// name is not echoed back whole.
    /// </summary>
    public static string Shown(string text)
    {
        var shown = new StringBuilder("'");
        var quoted = text.Length > ShownCharacters ? text[..ShownCharacters] : text;
        for (var i = 0; i < quoted.Length; i++)
        {
            var c = quoted[i];
            if (char.IsHighSurrogate(c) && i + 1 < quoted.Length && char.IsLowSurrogate(quoted[i + 1]))
            {
                shown.Append(c).Append(quoted[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c))
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                shown.Append(c);
            }
        }

        shown.Append('\'');
        return text.Length > ShownCharacters
            ? shown.Append(CultureInfo.InvariantCulture, $"... ({text.Length} characters)").ToString()
            : shown.ToString();
    }

    /// <summary>A field path as `param` carries it: as is when short and printable, else <see cref="Shown"/> (a caller's dictionary key can be anything).</summary>
    public static string Field(string path) =>
        path.Length <= ShownCharacters && !path.Any(c => char.IsControl(c) || char.IsSurrogate(c)) ? path : Shown(path);

    /// <summary>A character as a message names it: 'x', or U+0000 for one that does not print.</summary>
    public static string Describe(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";
}

public sealed record OpenAiErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    string Code);
