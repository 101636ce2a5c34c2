namespace Router.Domain.Costs;

/// <summary>What a model charges, in USD per million input and output tokens.</summary>
public readonly record struct TokenPrice(decimal InputUsdPerMillionTokens, decimal OutputUsdPerMillionTokens)
{
    private const decimal Million = 1_000_000m;

    public decimal Cost(long promptTokens, long completionTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(promptTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(completionTokens);
        return (promptTokens * InputUsdPerMillionTokens + completionTokens * OutputUsdPerMillionTokens) / Million;
    }
}
