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

    [Fact]
    public void An_in_process_worker_is_checked_like_a_worker_process_under_its_own_key()
    {
        var good = Model("small", 0);
        good.InProcess = new() { Backend = "vllm", Endpoint = new Uri("http://vllm:8000") };
        var bad = Model("large", 1);
        bad.Worker = "worker-large";
        bad.InProcess = new() { Backend = "tgi", MaxRetries = 11 };
        var openAi = Model("gpt-4o", 2);
        openAi.InProcess = new() { Backend = "openai" };

        var result = Validator.Validate(null, new PortfolioOptions { Models = [good, bad, openAi] });

        Assert.Equal(
            [
                "Portfolio:Models:1:Worker: names the worker service 'worker-large', but Portfolio:Models:1:InProcess runs the model's worker in the Gateway; set one of them.",
                "Portfolio:Models:1:InProcess:Backend: 'tgi' is not a backend; use one of vllm, openai, azure-openai, simulated, replay.",
                "Portfolio:Models:1:InProcess:MaxRetries: must be between 0 and 10, got 11.",
                "Portfolio:Models:2:InProcess:ApiKey: is required for the openai backend (set Portfolio__ApiKeys__gpt-4o from a secret store).",
            ],
            result.Failures);
        Assert.Equal(("small", 8192), (good.InProcessWorker()!.Model, good.InProcessWorker()!.ContextLength));
    }

    [Fact]
    public void An_in_process_worker_is_read_from_the_portfolio_json_with_the_models_own_figures_and_its_key_from_api_keys()
    {
        var options = new PortfolioOptions
        {
            ApiKeys = { ["LLAMA3.1-8B"] = "secret" },
            Json = """[{"name": "llama3.1-8b", "tier": 0, "inputUsdPerMillionTokens": 0.18, "outputUsdPerMillionTokens": 0.2, "contextLength": 4096, "parameterCount": 8000000000, "inProcess": {"backend": "vllm", "endpoint": "http://vllm:8000", "backendModel": "meta-llama/Llama-3.1-8B-Instruct", "requestTimeout": "00:00:30"}}]""",
        };
        options.ApplyJson();

        var worker = options.Models[0].InProcessWorker()!;

        Assert.True(Validator.Validate(null, options).Succeeded);
        Assert.Equal(
            ("llama3.1-8b", "vllm", new Uri("http://vllm:8000"), "meta-llama/Llama-3.1-8B-Instruct", 4096, 8_000_000_000L, 0.18, 0.2, TimeSpan.FromSeconds(30), "secret"),
            (worker.Model, worker.Backend, worker.Endpoint, worker.BackendModel, worker.ContextLength, worker.ParameterCount, worker.InputUsdPerMillionTokens, worker.OutputUsdPerMillionTokens, worker.RequestTimeout, worker.ApiKey));
    }

    private static ModelDeploymentOptions Model(string name, int tier) => new()
    {
        Name = name,
        Tier = tier,
        InputUsdPerMillionTokens = 0.1m,
        OutputUsdPerMillionTokens = 0.2m,
    };
}
