using System.Text.Json.Nodes;
using Xunit;

namespace Router.Infra.Tests;

/// <summary>
/// The provision (modules/resources.bicep) as ARM would deploy it, evaluated offline with `bicep
/// snapshot`: the models deployed follow the credentials given, each self-hosted model gets its
/// vLLM app, and an API key that is not given gets no Key Vault secret anyone could reference.
/// </summary>
public sealed class ProvisionEvaluationTests
{
    [Fact]
    public async Task Without_azure_openai_credentials_the_provision_deploys_the_self_hosted_models_and_says_what_it_skipped()
    {
        var (resources, outputs) = await ProvisionAsync(azureOpenAiEndpoint: string.Empty, azureOpenAiApiKey: string.Empty);

        Assert.Equal("llama3.1-8b,llama3.1-70b", outputs["deployedModels"]!.ToString());
        Assert.Equal("gpt-4o", outputs["skippedModels"]!.ToString());
        Assert.Equal(["vllm-llama3-1-8b", "vllm-llama3-1-70b"], Apps(resources).Where(name => name.StartsWith("vllm-", StringComparison.Ordinal)));
        Assert.DoesNotContain(resources, resource => resource["name"]!.ToString().EndsWith("/azure-openai-api-key", StringComparison.Ordinal));
        Assert.Contains(resources, resource => resource["name"]!.ToString().EndsWith("/vllm-api-key", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_azure_openai_credentials_every_model_is_deployed_and_its_key_is_in_key_vault()
    {
        var (resources, outputs) = await ProvisionAsync(azureOpenAiEndpoint: "https://contoso.openai.azure.com/", azureOpenAiApiKey: "azure-openai-key");

        Assert.Equal(Infra.AllModels, outputs["deployedModels"]!.ToString());
        Assert.Equal(string.Empty, outputs["skippedModels"]!.ToString());
        var secret = Assert.Single(resources, resource => resource["name"]!.ToString().EndsWith("/azure-openai-api-key", StringComparison.Ordinal));
        Assert.Equal("Microsoft.KeyVault/vaults/secrets", secret["type"]!.ToString());

        // gpt-4o runs in the Gateway or in a worker app, never on a GPU: only the two vLLM apps and the collector.
        Assert.Equal(["metrics-collector", "vllm-llama3-1-8b", "vllm-llama3-1-70b"], Apps(resources));
    }

    private static Task<(IReadOnlyList<JsonObject> Resources, JsonObject Outputs)> ProvisionAsync(string azureOpenAiEndpoint, string azureOpenAiApiKey) =>
        Infra.SnapshotAsync("modules/resources", new Dictionary<string, string>
        {
            ["tags"] = "{ 'azd-env-name': 'router' }",
            ["principalId"] = Infra.Literal("00000000-0000-0000-0000-0000000000aa"),
            ["principalType"] = Infra.Literal("User"),
            ["postgresAdminPassword"] = Infra.Literal("Postgres-password-1"),
            ["gatewayAdminKey"] = Infra.Literal("admin-key"),
            ["vllmApiKey"] = Infra.Literal("vllm-key"),
            ["metricsToken"] = Infra.Literal("metrics-token"),
            ["huggingFaceToken"] = Infra.Literal("hf-token"),
            ["azureOpenAiEndpoint"] = Infra.Literal(azureOpenAiEndpoint),
            ["azureOpenAiApiKey"] = Infra.Literal(azureOpenAiApiKey),
            ["openAiApiKey"] = Infra.Literal(string.Empty),
        }, DeclareSecureParametersPlain);

    /// <summary>
    /// The snapshot leaves secure parameters unevaluated, and the provision's model loops depend on
    /// the keys given; so the copy declares them plain, with the linter (which insists on
    /// @secure() for them) off. Nothing else in the copy changes.
    /// </summary>
    private static void DeclareSecureParametersPlain(string folder)
    {
        var resources = Path.Combine(folder, "modules", "resources.bicep");
        var lines = File.ReadAllLines(resources);
        Assert.Contains("@secure()", lines);
        File.WriteAllLines(resources, lines.Where(line => line.Trim() != "@secure()"));
        File.WriteAllText(Path.Combine(folder, "bicepconfig.json"), """{ "analyzers": { "core": { "enabled": false } } }""");
    }

    private static IEnumerable<string> Apps(IReadOnlyList<JsonObject> resources) =>
        resources.Where(resource => resource["type"]!.ToString() == "Microsoft.App/containerApps").Select(resource => resource["name"]!.ToString());
}
