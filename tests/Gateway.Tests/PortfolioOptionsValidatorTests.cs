using Router.Gateway.Portfolio;
using Xunit;

namespace Router.Gateway.Tests;

public sealed class PortfolioOptionsValidatorTests
{
    private static readonly PortfolioOptionsValidator Validator = new();

    [Fact]
    public void A_missing_portfolio_is_rejected_naming_the_section()
    {
        var result = Validator.Validate(null, new PortfolioOptions());

        Assert.True(result.Failed);
        Assert.Equal(["Portfolio:Models: at least one model must be configured."], result.Failures);
    }

    [Fact]
    public void A_valid_portfolio_passes()
    {
        var result = Validator.Validate(null, new PortfolioOptions { Models = [Model("small", 0), Model("large", 1)] });

        Assert.True(result.Succeeded);
    }

    [Theory]
    [InlineData("", 0, "Portfolio:Models:0:Name: is required.")]
    [InlineData("has space", 0, "Portfolio:Models:0:Name: 'has space' may contain only letters")]
    [InlineData("ok", -1, "Portfolio:Models:0:Tier: must be >= 0, got -1.")]
    public void Each_bad_field_is_named(string name, int tier, string expected)
    {
        var result = Validator.Validate(null, new PortfolioOptions { Models = [Model(name, tier)] });

        Assert.Contains(result.Failures!, failure => failure.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_prices_and_tier_duplicates_and_non_positive_sizes_are_each_reported()
    {
        var model = new ModelDeploymentOptions { Name = "a", ParameterCount = 0, ContextLength = -5 };
        var result = Validator.Validate(null, new PortfolioOptions { Models = [model, Model("a", 3)] });

        Assert.Equal(
            [
                "Portfolio:Models:0:Tier: is required (0 = cheapest, tried first).",
                "Portfolio:Models:0:InputUsdPerMillionTokens: is required (USD per million tokens; 0 is allowed).",
                "Portfolio:Models:0:OutputUsdPerMillionTokens: is required (USD per million tokens; 0 is allowed).",
                "Portfolio:Models:0:ParameterCount: must be positive when set, got 0.",
                "Portfolio:Models:0:ContextLength: must be positive when set, got -5.",
                "Portfolio:Models:1:Name: 'a' is configured twice.",
            ],
            result.Failures);
    }

    private static ModelDeploymentOptions Model(string name, int tier) => new()
    {
        Name = name,
        Tier = tier,
        InputUsdPerMillionTokens = 0.1m,
        OutputUsdPerMillionTokens = 0.2m,
    };
}
