using Router.Contracts;

namespace Router.InferenceWorker.Backends;

/// <summary>
/// Scores candidate strings from the first generated token's alternatives, as every HTTP backend
/// returns them: a candidate matches an alternative by trimmed text (exact case first); one that
/// is not among them gets the smallest returned log-prob as an upper bound.
/// </summary>
public static class CandidateScores
{
    public static IEnumerable<CandidateScore> From(TokenLogprob first, IEnumerable<string> candidates)
    {
        var alternatives = first.TopLogprobs.Count > 0 ? first.TopLogprobs.ToList() : [new TokenAlternative { Token = first.Token, Logprob = first.Logprob }];
        var floor = alternatives.Min(a => a.Logprob);
        foreach (var candidate in candidates)
        {
            var match = alternatives.FirstOrDefault(a => a.Token.Trim() == candidate.Trim())
                ?? alternatives.FirstOrDefault(a => string.Equals(a.Token.Trim(), candidate.Trim(), StringComparison.OrdinalIgnoreCase));
            yield return new CandidateScore { Candidate = candidate, Logprob = match?.Logprob ?? floor, InTopLogprobs = match is not null };
        }
    }
}
