using Router.Domain.Signals;

namespace Router.Contracts;

/// <summary>Conversions between the wire messages and the Domain types they carry, one place for every service and tool.</summary>
public static class DomainMessages
{
    /// <summary>An answer's tokens as the signals read them.</summary>
    public static AttemptTokens ToAttemptTokens(this IEnumerable<TokenLogprob> tokens)
    {
        var list = tokens as IReadOnlyList<TokenLogprob> ?? [.. tokens];
        return new AttemptTokens(
            [.. list.Select(t => t.Token)],
            [.. list.Select(t => t.Logprob)],
            [.. list.Select(t => (IReadOnlyList<(string, double)>)[.. t.TopLogprobs.Select(a => (a.Token, a.Logprob))])]);
    }
}
