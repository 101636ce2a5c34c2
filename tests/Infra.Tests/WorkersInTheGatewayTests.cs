using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Router.Gateway.Portfolio;
using Xunit;

namespace Router.Infra.Tests;

/// <summary>
/// A portfolio model marked <c>inGateway</c> has its worker's code run in the Gateway's process on
/// Azure too: no worker app, its backend settings in the Gateway's portfolio, its key a Gateway
/// secret from Key Vault. Read from what ARM would deploy (`bicep snapshot`), and the Gateway's own
/// options validation run on the configuration the template gives it.
/// </summary>
public sealed partial class WorkersInTheGatewayTests
{
    private const string AzureOpenAiEndpoint = "https://contoso.openai.azure.com";

    [Fact]
    public async Task A_cloud_model_in_the_gateway_gets_no_worker_app_and_its_key_as_a_gateway_secret()
    {
        Assert.True(Infra.Portfolio().Single(model => model!["name"]!.ToString() == "gpt-4o")!["inGateway"]!.GetValue<bool>());

        var gateway = Assert.Single(await Infra.DeployedAppsAsync("gateway", null, ("azureOpenAiEndpoint", AzureOpenAiEndpoint)));
        var env = Infra.Env(gateway);
        var portfolio = JsonNode.Parse(env["Portfolio__Json"]["value"]!.ToString())!.AsArray().Select(model => model!.AsObject()).ToList();
        Assert.Equal(["llama3.1-8b", "llama3.1-70b", "gpt-4o"], portfolio.Select(model => model["name"]!.ToString()));

        var gpt = portfolio[2];
        Assert.Null(gpt["worker"]);
        Assert.Equal("azure-openai", gpt["inProcess"]!["backend"]!.ToString());
        Assert.Equal($"{AzureOpenAiEndpoint}/openai/v1/", gpt["inProcess"]!["endpoint"]!.ToString());
        Assert.Equal("gpt-4o", gpt["inProcess"]!["backendModel"]!.ToString());
        Assert.All(portfolio.Take(2), model => Assert.Null(model["inProcess"]));
        Assert.Equal(["worker-llama3-1-8b", "worker-llama3-1-70b"], portfolio.Take(2).Select(model => model["worker"]!.ToString()));

        // The key comes from the provision's Key Vault secret for the backend, never from the portfolio.
        Assert.Equal("api-key-gpt-4o", env["Portfolio__ApiKeys__gpt-4o"]["secretRef"]!.ToString());
        Assert.EndsWith("'azure-openai-api-key')]", Infra.SecretUrl(gateway, "api-key-gpt-4o"), StringComparison.Ordinal);
        Assert.DoesNotContain("apiKey", env["Portfolio__Json"]["value"]!.ToString(), StringComparison.OrdinalIgnoreCase);

        // Only the models with a worker app are reached over gRPC.
        Assert.Equal(["services__worker-llama3-1-8b__grpc__0", "services__worker-llama3-1-70b__grpc__0"], env.Keys.Where(name => name.StartsWith("services__worker-", StringComparison.Ordinal)));

        // The Gateway accepts what the template gives it, and the in-process worker gets its key.
        var options = PortfolioOptions.From(Configuration(env));
        var validation = new PortfolioOptionsValidator().Validate(null, options);
        Assert.True(validation.Succeeded, validation.FailureMessage);
        Assert.Equal("value of api-key-gpt-4o", options.Models.Single(model => model.Name == "gpt-4o").InProcess!.ApiKey);

        // No worker app for it, and Scoring does not look for one.
        var workers = await Infra.DeployedAppsAsync("inference-worker", null, ("azureOpenAiEndpoint", AzureOpenAiEndpoint));
        Assert.Equal(["worker-llama3-1-8b", "worker-llama3-1-70b"], workers.Select(app => app["name"]!.ToString()));
        var scoring = Infra.Env(Assert.Single(await Infra.DeployedAppsAsync("scoring")));
        Assert.Equal(["services__worker-llama3-1-8b__grpc__0", "services__worker-llama3-1-70b__grpc__0"], scoring.Keys.Where(name => name.StartsWith("services__worker-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Worker_apps_get_their_prices_as_text_and_one_carries_the_azd_tag()
    {
        var workers = await Infra.DeployedAppsAsync("inference-worker");

        // ARM's string() refuses a fractional number: a price of 0.18 must still arrive as "0.18".
        var first = Infra.Env(workers[0]);
        Assert.Equal("0.18", first["Worker__InputUsdPerMillionTokens"]["value"]!.ToString());
        Assert.Equal("16384", first["Worker__ContextLength"]["value"]!.ToString());
        Assert.Equal(["inference-worker"], workers.Select(app => app["tags"]?["azd-service-name"]?.ToString()).OfType<string>());
    }

    [Fact]
    public async Task A_self_hosted_model_in_the_gateway_calls_its_vllm_app_with_the_vllm_key()
    {
        static void FirstInGateway(JsonArray models) => models[0]!["inGateway"] = true;

        var gateway = Assert.Single(await Infra.DeployedAppsAsync("gateway", FirstInGateway));
        var env = Infra.Env(gateway);
        Assert.Equal("api-key-llama3-1-8b", env["Portfolio__ApiKeys__llama3.1-8b"]["secretRef"]!.ToString());
        Assert.EndsWith("'vllm-api-key')]", Infra.SecretUrl(gateway, "api-key-llama3-1-8b"), StringComparison.Ordinal);

        // The vLLM app's address is known once the environment exists, so the portfolio stays an expression until then.
        var portfolio = env["Portfolio__Json"]["value"]!.ToString();
        Assert.Contains("'name', 'llama3.1-8b', ", portfolio, StringComparison.Ordinal);
        Assert.Contains("'inProcess', createObject('backend', 'vllm', 'endpoint', format('https://{0}.internal.{1}', 'vllm-llama3-1-8b', ", portfolio, StringComparison.Ordinal);
        Assert.Contains("'backendModel', 'hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4'", portfolio, StringComparison.Ordinal);
        Assert.DoesNotContain("services__worker-llama3-1-8b__grpc__0", env.Keys);

        // The tag azd finds the inference-worker service by moves to the first app still deployed.
        var workers = await Infra.DeployedAppsAsync("inference-worker", FirstInGateway);
        var worker = Assert.Single(workers);
        Assert.Equal("worker-llama3-1-70b", worker["name"]!.ToString());
        Assert.Equal("inference-worker", worker["tags"]!["azd-service-name"]!.ToString());
    }

    [Fact]
    public void Every_portfolio_model_gives_a_valid_container_apps_variable_for_its_key()
    {
        // https://github.com/microsoft/aspire/pull/1779: ContainerAppInvalidEnvVarName, '^[-._a-zA-Z][-._a-zA-Z0-9]*$'.
        foreach (var model in Infra.Portfolio().Select(model => model!["name"]!.ToString()))
        {
            Assert.Matches(EnvironmentVariableName(), $"Portfolio__ApiKeys__{model}");
        }
    }

    /// <summary>The configuration the Gateway reads from those variables; a secret's value stands in as "value of &lt;secret&gt;".</summary>
    private static IConfiguration Configuration(Dictionary<string, JsonObject> env) =>
        new ConfigurationBuilder().AddInMemoryCollection(env.Values.Select(entry => KeyValuePair.Create(
            entry["name"]!.ToString().Replace("__", ":", StringComparison.Ordinal),
            entry["secretRef"] is { } secret ? $"value of {secret}" : entry["value"]?.ToString()))).Build();

    [GeneratedRegex("^[-._a-zA-Z][-._a-zA-Z0-9]*$")]
    private static partial Regex EnvironmentVariableName();
}
