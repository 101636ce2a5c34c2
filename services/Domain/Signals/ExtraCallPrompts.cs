namespace Router.Domain.Signals;

/// <summary>
/// The model calls a recipe can need at its stage besides the answer itself, by the names traces,
/// the ledger and the Gateway use for them.
/// </summary>
public static class ExtraCallKinds
{
    /// <summary>"Is the proposed answer correct?" asked of the same model: P(True).</summary>
    public const string SelfVerification = "self_verification";

    /// <summary>"Do you know the answer?" asked of the same model: P(IK).</summary>
    public const string DoYouKnow = "do_you_know";

    /// <summary>Further answers at temperature &gt; 0 for self-consistency.</summary>
    public const string Sample = "sample";
}

/// <summary>
/// The prompts of the extra calls, shared by the Gateway (which asks them), the trace
/// recorder and the simulated models (which recognise them).
/// </summary>
public static class ExtraCallPrompts
{
    public const string ProposedAnswerMarker = "Proposed answer:";

    private const string DoYouKnowQuestion = "Do you know the answer to this question? Answer Yes or No.";

    /// <summary>Yes first: the candidates whose first-token log-probs P(True) and P(IK) read.</summary>
    public static IReadOnlyList<string> YesNo { get; } = ["Yes", "No"];

    /// <summary>Tokens the templates add to the question (and answer), at ~4 characters a token.</summary>
    public static int SelfVerificationTemplateTokens { get; } = EstimateTokens(SelfVerification(string.Empty, string.Empty));

    public static int DoYouKnowTemplateTokens { get; } = EstimateTokens(DoYouKnow(string.Empty));

    public static string SelfVerification(string question, string answer) =>
        $"{question}\n{ProposedAnswerMarker} {answer}\nIs the proposed answer correct? Answer Yes or No.\nAnswer:";

    public static string DoYouKnow(string question) => $"{question}\n{DoYouKnowQuestion}\nAnswer:";

    /// <summary>The answer a self-verification prompt proposes (up to the end of its line), or null when the prompt is not one.</summary>
    public static string? ProposedAnswer(string prompt)
    {
        var start = prompt.LastIndexOf(ProposedAnswerMarker, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var rest = prompt[(start + ProposedAnswerMarker.Length)..];
        var end = rest.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? rest : rest[..end]).Trim();
    }

    public static bool IsDoYouKnow(string prompt) => prompt.Contains(DoYouKnowQuestion, StringComparison.Ordinal);

    private static int EstimateTokens(string text) => (text.Length + 3) / 4;
}
