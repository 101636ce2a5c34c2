using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

/// <summary>
/// What a name the caller sends may look like. Names travel into gRPC headers and statuses, HTTP
/// headers and ledger columns, so each is checked at the edge for length and characters: a NUL
/// byte, a control character or 100,000 characters is a 400 naming the field, never a 5xx further in.
/// </summary>
public sealed record NameRule(int MaxLength, Func<char, bool> Allowed, string AllowedText)
{
    /// <summary>Policy names: `cascade/&lt;policy&gt;`, as stored by `router fit` and the Policy service's defaults.</summary>
    public static readonly NameRule Policy = new(64, IsIdentifierChar, "letters, digits, '.', '_' and '-'");

    /// <summary>Model ids of the portfolio; longer or odder strings cannot name one.</summary>
    public static readonly NameRule Model = new(128, c => IsIdentifierChar(c) || c is ':' or '/', "letters, digits, '.', '_', '-', ':' and '/'");

    /// <summary>Task families pick calibrators ("mmlu", "triviaqa").</summary>
    public static readonly NameRule TaskFamily = Policy;

    /// <summary>Team and API key names, shown in listings and reports.</summary>
    public static readonly NameRule Label = new(100, c => char.IsLetterOrDigit(c) || c is ' ' or '.' or '_' or '-', "letters, digits, spaces, '.', '_' and '-'");

    /// <summary>Ids this router hands out (chatcmpl-..., route-...).</summary>
    public static readonly NameRule RequestId = new(64, c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-', "ASCII letters, digits, '_' and '-'");

    /// <summary>Null when the name is acceptable; otherwise what is wrong with it, as the end of a sentence that starts with the field's name.</summary>
    public string? Problem(string name)
    {
        if (name.Length == 0)
        {
            return "must not be empty.";
        }

        if (name.Length > MaxLength)
        {
            return $"must be at most {MaxLength} characters; got {name.Length}.";
        }

        foreach (var c in name)
        {
            if (!Allowed(c))
            {
                return $"may contain only {AllowedText}; got {OpenAiError.Describe(c)} in {OpenAiError.Shown(name)}.";
            }
        }

        return null;
    }

    private static bool IsIdentifierChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';
}
