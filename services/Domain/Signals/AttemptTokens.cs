namespace Router.Domain.Signals;

/// <summary>
/// A generated answer as the signals see it: per token, the chosen token's text and log-prob and
/// the top-k alternatives (which may include the chosen token, as OpenAI-compatible APIs return
/// them). Arrays of equal length; an alternative list may be empty when the backend sent none.
/// </summary>
public sealed record AttemptTokens(IReadOnlyList<string> Tokens, IReadOnlyList<double> Logprobs, IReadOnlyList<IReadOnlyList<(string Token, double Logprob)>> TopLogprobs)
{
    public int Count => Logprobs.Count;

    public static AttemptTokens Empty { get; } = new([], [], []);
}

/// <summary>Window sizes and choices for the signals; sizes are clipped to the answer length.</summary>
public sealed record SignalOptions
{
    /// <summary>DeepConf sliding window w (tokens).</summary>
    public int GroupWindow { get; init; } = 32;

    /// <summary>Tail length t (tokens) of the tail confidence.</summary>
    public int TailTokens { get; init; } = 32;

    /// <summary>Share of the lowest group confidences averaged by the bottom-percent signal.</summary>
    public double BottomFraction { get; init; } = 0.1;

    /// <summary>Option labels of a multiple-choice question (e.g. A-D), for the answer-option probability.</summary>
    public IReadOnlyList<string> AnswerOptions { get; init; } = [];

    /// <summary>
    /// Log-prob a -inf token is counted as (exp(-30) ~ 1e-13): one token the backend could not
    /// score must lower the confidence, not make every mean -inf.
    /// </summary>
    public double LogprobFloor { get; init; } = -30;
}
