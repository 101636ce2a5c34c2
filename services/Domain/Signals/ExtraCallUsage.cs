using Router.Domain.Costs;
using Router.Domain.Traces;

namespace Router.Domain.Signals;

/// <summary>One model call a recipe made besides the answer: its tokens and how long it took.</summary>
public readonly record struct ExtraCall(int PromptTokens, int CompletionTokens, double LatencyMs);

/// <summary>
/// The extra calls of one kind (<see cref="ExtraCallKinds"/>) an attempt made, added up and priced
/// at the model's rates: what a route's trace, the ledger and recorded traces say they cost.
/// </summary>
public sealed record ExtraCallUsage(string Kind, int Calls, int PromptTokens, int CompletionTokens, decimal CostUsd, double LatencyMs)
{
    /// <summary>
    /// Calls of one kind. <see cref="LatencyMs"/> is the longest call's when they ran side by side
    /// (<paramref name="concurrent"/>), else their sum.
    /// </summary>
    public static ExtraCallUsage Of(string kind, IReadOnlyList<ExtraCall> calls, TokenPrice price, bool concurrent)
    {
        var prompt = calls.Sum(c => c.PromptTokens);
        var completion = calls.Sum(c => c.CompletionTokens);
        var latency = calls.Count == 0 ? 0 : concurrent ? calls.Max(c => c.LatencyMs) : calls.Sum(c => c.LatencyMs);
        return new ExtraCallUsage(kind, calls.Count, prompt, completion, price.Cost(prompt, completion), latency);
    }

    /// <summary>As a multi-signal trace stores it.</summary>
    public ExtraCallRecord ToRecord() => new(Calls, PromptTokens, CompletionTokens, (double)CostUsd, LatencyMs);
}
