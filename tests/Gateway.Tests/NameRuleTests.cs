using Router.Gateway.Apis;
using Router.Gateway.Routing;
using Xunit;

namespace Router.Gateway.Tests;

public sealed class NameRuleTests
{
    [Theory]
    [InlineData("default")]
    [InlineData("mmlu-eps0.01_v2")]
    public void Policy_names_of_letters_digits_dots_dashes_and_underscores_pass(string name) =>
        Assert.Null(NameRule.Policy.Problem(name));

    [Theory]
    [InlineData("", "must not be empty.")]
    [InlineData("a b", "may contain only letters, digits, '.', '_' and '-'; got U+0020 in 'a b'.")]
    [InlineData("x\u0000y", "may contain only letters, digits, '.', '_' and '-'; got U+0000 in 'x\\u0000y'.")]
    [InlineData("café", "may contain only letters, digits, '.', '_' and '-'; got 'é' in 'café'.")]
    public void A_bad_policy_name_is_described(string name, string problem) =>
        Assert.Equal(problem, NameRule.Policy.Problem(name));

    [Fact]
    public void Lengths_are_bounded_per_kind_of_name()
    {
        Assert.Null(NameRule.Policy.Problem(new string('p', 64)));
        Assert.Equal("must be at most 64 characters; got 65.", NameRule.Policy.Problem(new string('p', 65)));
        Assert.Null(NameRule.Label.Problem("Search team 2." + new string('x', 86)));
        Assert.NotNull(NameRule.Label.Problem(new string('x', 101)));
        Assert.NotNull(NameRule.Label.Problem("tab\there"));
        Assert.Null(NameRule.RequestId.Problem("chatcmpl-0123456789abcdef0123456789abcdef"));
        Assert.NotNull(NameRule.RequestId.Problem("chatcmpl-\u0000"));
    }

    [Fact]
    public void Shown_text_is_quoted_escaped_and_cut()
    {
        Assert.Equal("'a\\u0000b'", OpenAiError.Shown("a\u0000b"));
        Assert.Equal($"'{new string('x', 64)}'... (100000 characters)", OpenAiError.Shown(new string('x', 100_000)));
        Assert.Equal("'\\ud800'", OpenAiError.Shown("\ud800"));
        Assert.Equal("'ok \U0001F600'", OpenAiError.Shown("ok \U0001F600"));
    }
}
