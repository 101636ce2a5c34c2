using Router.Domain.Signals;

namespace Router.Contracts;

/// <summary>Conversions between the wire messages and the Domain types they carry, one place for every service and tool.</summary>
public static class DomainMessages
{
    /// <summary>An answer's tokens as the signals read them.</summary>
    public static AttemptTokens ToAttemptTokens(this IEnumerable<TokenLogprob> tokens)
    {
        var list = tokens as IReadOnlyList<TokenLogprob> ?? [.. tokens];
        var texts = new string[list.Count];
        var logprobs = new double[list.Count];
        var alternatives = new IReadOnlyList<(string, double)>[list.Count];
        for (var i = 0; i < list.Count; i++)
        {
            var token = list[i];
            texts[i] = token.Token;
            logprobs[i] = token.Logprob;
            var top = new (string, double)[token.TopLogprobs.Count];
            for (var a = 0; a < top.Length; a++)
            {
                top[a] = (token.TopLogprobs[a].Token, token.TopLogprobs[a].Logprob);
            }

            alternatives[i] = top;
        }

        return new AttemptTokens(texts, logprobs, alternatives);
    }
}
