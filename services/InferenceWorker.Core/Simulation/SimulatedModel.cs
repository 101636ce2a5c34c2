using System.Security.Cryptography;
using System.Text;
using Router.Domain.Signals;

namespace Router.InferenceWorker.Simulation;

/// <summary>A generated token: its text, log-prob and the top alternatives (chosen token included), most likely first.</summary>
public sealed record SimulatedToken(string Text, double Logprob, IReadOnlyList<(string Token, double Logprob)> Top);

/// <summary>A simulated answer. <see cref="Correct"/> is null for prompts outside the question set.</summary>
public sealed record SimulatedAnswer(IReadOnlyList<SimulatedToken> Tokens, string FinishReason, int PromptTokens, bool? Correct, double LatentConfidence)
{
    public string Text => string.Concat(Tokens.Select(t => t.Text));
}

/// <summary>How the token confidence of a long (reasoned) simulated answer moves along it.</summary>
public enum ConfidenceTrajectory
{
    /// <summary>Reasoning tokens are as confident in answers that end wrong as in right ones: the doubt shows only at the answer itself.</summary>
    Flat,

    /// <summary>
    /// From a random point mid-answer confidence falls with the model's doubt, and in most wrong
    /// answers by more (where the model goes astray, seed 000), and stays down; a few right answers
    /// dip for a stretch and recover.
    /// </summary>
    Falling,
}

/// <summary>
/// Pure, deterministic generator of a simulated model's answers: the same (model, prompt, seed)
/// always gives the same tokens and log-probs. See <see cref="SimulatedModelProfile"/> for the
/// statistics; format tokens ("Answer", ":") get log-prob exactly 0, as real models' often do.
/// </summary>
public sealed class SimulatedModel(SimulatedModelProfile profile, QuestionSet questions)
{
    /// <summary>Mean and spread of a right answer's reasoning length, in tokens.</summary>
    private const double ReasoningTokens = 140;

    private const double ReasoningSpread = 35;

    // An explanation of the simulated kind: readable, and plainly not a real model's.
    private static readonly string[] Filler =
        [" (", "simulated", " answer", " from", " the", " router", "'s", " test", " fleet", ";", " no", " real", " model", " was", " called", ")", "."];

    private static readonly string[] Reasoning =
        [" Simulated", " reasoning", ":", " we", " weigh", " each", " step", " of", " the", " question", " in", " turn", ",", " then", " check", " it", "."];

    public SimulatedModelProfile Profile => profile;

    public SimulatedAnswer Generate(string prompt, long seed, int maxTokens, int topLogprobs, IReadOnlyList<string> stop)
    {
        var (question, correct, z, random) = Latent(prompt, seed);
        var tokens = new List<SimulatedToken>();
        AddAnswer(tokens, question, correct, z, prompt, topLogprobs, random);
        var explanation = Math.Max(0, profile.ExplanationTokens + (int)Math.Round(Gaussian(random) * 3));
        for (var i = 0; i < Math.Min(explanation, Filler.Length); i++)
        {
            var word = Filler[i];
            tokens.Add(Token(word, LogSigmoid(z + 1.5 + Gaussian(random)), topLogprobs, [word, .. Filler], random));
        }

        var finish = "stop";
        var text = new StringBuilder();
        var kept = new List<SimulatedToken>();
        foreach (var token in tokens)
        {
            if (kept.Count == maxTokens)
            {
                finish = "length";
                break;
            }

            text.Append(token.Text);
            if (stop.FirstOrDefault(s => text.ToString().Contains(s, StringComparison.Ordinal)) is not null)
            {
                break;
            }

            kept.Add(token);
        }

        return new SimulatedAnswer(kept, finish, EstimateTokens(prompt), question is null ? null : correct, Sigmoid(z));
    }

    /// <summary>
    /// A long answer, reasoning first and then "Answer: ..." (seed 000's chain-of-thought traces):
    /// the same question, correctness and latent confidence as <see cref="Generate"/> for the same
    /// (model, prompt, seed), so the answer tokens carry the same doubt. Reasoning tokens are fluent
    /// (p ~ 0.95, more for better models) with noise; <paramref name="trajectory"/> decides whether
    /// their confidence falls with the model's doubt and where a wrong answer goes astray. Wrong answers are a fifth longer on
    /// average, as wrong chains of thought are.
    /// </summary>
    public SimulatedAnswer GenerateReasoned(string prompt, long seed, int topLogprobs, ConfidenceTrajectory trajectory)
    {
        var (question, correct, z, random) = Latent(prompt, seed);
        var length = (int)Math.Clamp(Math.Round((ReasoningTokens + ReasoningSpread * Gaussian(random)) * (correct ? 1 : 1.2)), 40, 400);
        var (drift, dip) = trajectory == ConfidenceTrajectory.Falling ? Fall(correct, z, length, random) : default;
        var fluency = 2.6 + 1.2 * profile.Accuracy;
        var tokens = new List<SimulatedToken>(length + 8);
        for (var i = 0; i < length; i++)
        {
            var word = Reasoning[i % Reasoning.Length];
            var logit = fluency + Gaussian(random) - Math.Max(drift.DepthAt(i), dip.DepthAt(i));
            tokens.Add(Token(word, LogSigmoid(logit), topLogprobs, [word, .. Reasoning], random));
        }

        tokens.Add(Token("\n", 0, topLogprobs, ["\n", " So", " Thus"], random));
        AddAnswer(tokens, question, correct, z, prompt, topLogprobs, random);
        return new SimulatedAnswer(tokens, "stop", EstimateTokens(prompt), question is null ? null : correct, Sigmoid(z));
    }

    /// <summary>
    /// Next-token log-probs of candidates after a prompt about a known question. "Yes"/"True": asked
    /// whether a proposed answer is correct (self-verification, P(True)), the model judges that
    /// answer with <see cref="SimulatedModelProfile.VerificationSeparation"/>; asked whether it knows
    /// the answer (P(IK)), it knows only how hard the question is for it; otherwise "Yes" follows its
    /// latent confidence in its own answer. Option letters follow the option it would choose.
    /// </summary>
    public IReadOnlyList<(string Candidate, double Logprob, bool InTop)> Score(string prompt, IReadOnlyList<string> candidates)
    {
        var (question, correct, z, _) = Latent(prompt, 0);
        var random = new Random(SeedOf(profile.Model, "score|" + prompt, 0));
        var yes = (question, ExtraCallPrompts.ProposedAnswer(prompt)) switch
        {
            ({ } known, { } proposed) => Sigmoid(Logit(profile.Accuracy) + profile.Overconfidence + (known.IsCorrect(proposed) ? 0.5 : -0.5) * (profile.VerificationSeparation ?? profile.Separation) + Gaussian(random)),
            ({ } known, null) when ExtraCallPrompts.IsDoYouKnow(prompt) => Sigmoid(Logit(PCorrect(known.Difficulty)) + 0.5 * Gaussian(random)),
            _ => Sigmoid(z + 0.7 * Gaussian(random)),
        };
        var letter = question is { IsMultipleChoice: true } ? Chosen(question, correct, random) : null;
        const double NotReturned = -12;
        return [.. candidates.Select(candidate =>
        {
            var normalised = candidate.Trim().ToLowerInvariant();
            double? probability = normalised switch
            {
                "yes" or "true" => yes * 0.97,
                "no" or "false" => (1 - yes) * 0.97,
                _ when letter is not null && normalised.Length == 1 && normalised[0] is >= 'a' and <= 'z' =>
                    normalised == letter.ToLowerInvariant() ? Sigmoid(z) : (1 - Sigmoid(z)) / Math.Max(1, question!.Options!.Count - 1),
                _ => null,
            };
            return probability is { } p ? (candidate, Math.Log(Math.Max(p, 1e-12)), true) : (candidate, NotReturned, false);
        })];
    }

    public static int EstimateTokens(string text) => Math.Max(1, (text.Length + 3) / 4);

    /// <summary>
    /// How a falling answer's reasoning logits drop. From a point 5-35% into the answer the model's
    /// doubt shows: the logits drift down by 8 (1 - p), p its latent confidence in the answer it
    /// is heading for (seed 000: the lowest groups of an answer track whether it ends well). 85% of
    /// wrong answers go astray there outright, dropping by 2.5 give or take (a token of p ~ 0.95
    /// becomes ~ 0.7) if that is more; the drop comes over a few tokens and stays. 10% of right
    /// answers also dip as far for 6-30 tokens somewhere and recover.
    /// </summary>
    private static (TokenFall Drift, TokenFall Dip) Fall(bool correct, double z, int length, Random random)
    {
        var depth = Math.Max(1, 2.5 + 0.6 * Gaussian(random));
        var start = (int)(length * (0.05 + 0.3 * random.NextDouble()));
        var doubt = 8 * (1 - Sigmoid(z));
        if (!correct)
        {
            return (new TokenFall(start, int.MaxValue, random.NextDouble() < 0.85 ? Math.Max(depth, doubt) : doubt), default);
        }

        var drift = new TokenFall(start, int.MaxValue, doubt);
        if (random.NextDouble() >= 0.1)
        {
            return (drift, default);
        }

        var dip = (int)(length * 0.8 * random.NextDouble());
        return (drift, new TokenFall(dip, dip + 6 + random.Next(25), depth));
    }

    private (KnownQuestion? Question, bool Correct, double Z, Random Random) Latent(string prompt, long seed)
    {
        var question = questions.Find(prompt);
        var random = new Random(SeedOf(profile.Model, question?.Id ?? prompt, seed));
        var difficulty = question?.Difficulty ?? random.NextDouble();
        var correct = random.NextDouble() < PCorrect(difficulty);
        var z = Logit(profile.Accuracy) + profile.Overconfidence + (correct ? 0.5 : -0.5) * profile.Separation + Gaussian(random);
        return (question, correct, z, random);
    }

    /// <summary>"Answer: &lt;answer&gt;": the first answer token carries the model's doubt (logit z); later ones follow from it.</summary>
    private static void AddAnswer(List<SimulatedToken> tokens, KnownQuestion? question, bool correct, double z, string prompt, int topLogprobs, Random random)
    {
        tokens.Add(Token("Answer", 0, topLogprobs, ["Answer", "The", "I"], random));
        tokens.Add(Token(":", 0, topLogprobs, [":", " is", " -"], random));
        var answerWords = AnswerWords(question, correct, prompt, random);
        var alternatives = Distractors(question, random);
        for (var i = 0; i < answerWords.Count; i++)
        {
            var logit = i == 0 ? z : z + 2 + Gaussian(random);
            tokens.Add(Token(answerWords[i], LogSigmoid(logit), topLogprobs, [answerWords[i], .. alternatives], random));
        }
    }

    private double PCorrect(double difficulty) => Sigmoid(Logit(profile.Accuracy) + 3 * (0.5 - difficulty));

    private static List<string> AnswerWords(KnownQuestion? question, bool correct, string prompt, Random random)
    {
        if (question is null)
        {
            return [" simulated", " answer", $" {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prompt)))[..6]}"];
        }

        if (question.IsMultipleChoice)
        {
            return [" " + Chosen(question, correct, random)];
        }

        var answer = correct
            ? question.Answer
            : QuestionSet.Default.Questions.Where(q => !q.IsMultipleChoice && q.Id != question.Id).ElementAt(random.Next(QuestionSet.Default.Questions.Count(q => !q.IsMultipleChoice) - 1)).Answer;
        return [.. answer.Split(' ').Select(w => " " + w)];
    }

    private static string Chosen(KnownQuestion question, bool correct, Random random)
    {
        if (correct)
        {
            return question.Answer;
        }

        var wrong = Enumerable.Range(0, question.Options!.Count).Select(i => ((char)('A' + i)).ToString()).Where(l => l != question.Answer).ToList();
        return wrong[random.Next(wrong.Count)];
    }

    private static string[] Distractors(KnownQuestion? question, Random random) =>
        question is { IsMultipleChoice: true }
            ? [.. Enumerable.Range(0, question.Options!.Count).Select(i => " " + (char)('A' + i)), " The", " Option", " I"]
            : [" the", " a", " it", $" {random.Next(10, 99)}"];

    /// <summary>The chosen token with k alternatives whose probabilities share what the chosen one leaves (sum below 1).</summary>
    private static SimulatedToken Token(string text, double logprob, int k, IReadOnlyList<string> candidates, Random random)
    {
        if (k == 0)
        {
            return new SimulatedToken(text, logprob, []);
        }

        var rest = -double.ExpM1(logprob);
        var alternatives = candidates.Where(c => c != text).Distinct().Take(k - 1).ToList();
        var top = new List<(string, double)> { (text, logprob) };
        var share = 0.5 + 0.2 * random.NextDouble();
        for (var i = 0; i < alternatives.Count; i++)
        {
            var probability = rest > 0 ? rest * 0.95 * Math.Pow(share, i + 1) * (1 - share) / share : 0;
            top.Add((alternatives[i], probability > 0 ? Math.Log(probability) : -30 - i));
        }

        return new SimulatedToken(text, logprob, [.. top.OrderByDescending(t => t.Item2)]);
    }

    private static int SeedOf(string model, string key, long seed) =>
        BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes($"{model}|{key}|{seed}")));

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static double LogSigmoid(double x) => x >= 0 ? -double.LogP1(Math.Exp(-x)) : x - double.LogP1(Math.Exp(x));

    private static double Logit(double p) => Math.Log(p / (1 - p));
}

/// <summary>A drop of <see cref="Depth"/> logits from token <see cref="Start"/> until <see cref="End"/>, reached over a few tokens; default: none.</summary>
internal readonly record struct TokenFall(int Start, int End, double Depth)
{
    private const int RampTokens = 4;

    public double DepthAt(int token) =>
        Depth == 0 || token < Start || token >= End ? 0 : Depth * Math.Min(1, (token - Start + 1) / (double)RampTokens);
}
