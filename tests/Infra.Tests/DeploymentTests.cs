using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Router.Contracts;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace Router.Infra.Tests;

/// <summary>
/// What a first `azd up` creates, read from the compiled ARM JSON of infra/: apps start from
/// their real images with probes those images answer, vLLM gets a GPU of its own, replicas fit
/// their profiles, secrets come from Key Vault, the journal outlives replicas, the cache is Azure
/// Managed Redis, the portfolio has one source, every worker runs the worker image, and metrics
/// reach an OTLP destination. Limits and sizes are the ones Microsoft documents (cited in infra/).
/// </summary>
public sealed partial class DeploymentTests
{
    private const string ContainerApps = "Microsoft.App/containerApps";

    [Fact]
    public async Task No_app_starts_from_a_placeholder_image()
    {
        foreach (var template in await Infra.AllTemplates())
        {
            Assert.DoesNotContain("mcr.microsoft.com", ArmTemplate.Text(template.Root), StringComparison.Ordinal);
        }

        // The router's services are created by azd deploy with the image it just pushed: the image
        // parameter has no default, and every app of the template runs it.
        foreach (var service in ServiceTemplates)
        {
            var template = await Infra.Template(service);
            Assert.Null(template.ParameterDefinition("image")["defaultValue"]);
            var module = Assert.Single(template.Resources, resource => resource.IsModule);
            Assert.Equal("[parameters('image')]", module.ArgumentText("image"));
            var container = Assert.Single(AppOf(module).Containers);
            Assert.Equal("[parameters('image')]", ArmTemplate.Text(container["image"]));
        }
    }

    [Fact]
    public async Task Every_service_template_evaluates_as_arm_would_deploy_it_with_the_image_azd_pushed()
    {
        // The same template engine as ARM, offline: a function ARM refuses a value for fails here, not in azd deploy.
        var deployed = await Task.WhenAll(ServiceTemplates.Select(async service => (Service: service, Apps: await Infra.DeployedAppsAsync(service))));
        foreach (var (service, apps) in deployed)
        {
            Assert.NotEmpty(apps);
            Assert.All(apps, app => Assert.Equal($"registry.example/{service}:1", app["properties"]!["template"]!["containers"]![0]!["image"]!.ToString()));
            Assert.Single(apps, app => app["tags"]?["azd-service-name"]?.ToString() == service);
        }
    }

    [Fact]
    public async Task Service_probes_ask_alive_and_health_on_the_http_port()
    {
        foreach (var service in ServiceTemplates)
        {
            var container = Assert.Single(AppOf(await ServiceModule(service)).Containers);
            var probes = container["probes"]!.AsArray().Select(probe => probe!.AsObject()).ToDictionary(probe => probe["type"]!.ToString());

            Assert.Equal(["Liveness", "Readiness", "Startup"], probes.Keys.Order());
            Assert.Equal("/alive", probes["Startup"]["httpGet"]!["path"]!.ToString());
            Assert.Equal("/alive", probes["Liveness"]["httpGet"]!["path"]!.ToString());
            Assert.Equal("/health", probes["Readiness"]["httpGet"]!["path"]!.ToString());
            Assert.All(probes.Values, probe => Assert.Equal(8080, (int)probe["httpGet"]!["port"]!));
        }
    }

    [Fact]
    public async Task Every_probe_is_within_the_documented_limits()
    {
        // https://learn.microsoft.com/azure/container-apps/health-probes (ContainerAppProbe).
        var limits = new Dictionary<string, (int Min, int Max)>
        {
            ["failureThreshold"] = (1, 10),
            ["periodSeconds"] = (1, 240),
            ["initialDelaySeconds"] = (1, 60),
            ["timeoutSeconds"] = (1, 240),
        };
        var probes = (await AllApps()).SelectMany(app => app.Containers).SelectMany(container => container["probes"]!.AsArray()).ToList();

        Assert.NotEmpty(probes);
        foreach (var probe in probes.Select(probe => probe!.AsObject()))
        {
            foreach (var (setting, (min, max)) in limits)
            {
                if (probe[setting] is { } value)
                {
                    Assert.InRange((int)value, min, max);
                }
            }
        }
    }

    [Fact]
    public async Task Vllm_runs_alone_on_a_gpu_profile_and_every_other_app_on_consumption()
    {
        var vllm = VllmApp(await Resources());
        var container = Assert.Single(vllm.Containers);

        // Only the first container of an app gets the GPU.
        Assert.Equal("vllm", container["name"]!.ToString());
        Assert.Equal("[variables('profile').name]", vllm.Text("properties.workloadProfileName"));
        Assert.Equal("[variables('gpuProfiles')[parameters('model').gpu]]", ArmTemplate.Text(vllm.Scope.Root["variables"]!["profile"]));
        var arguments = ArmTemplate.Text(vllm.Scope.Root["variables"]!["arguments"]);
        Assert.Contains("'--dtype', 'half'", arguments, StringComparison.Ordinal);
        Assert.Contains("'--max-logprobs', '20'", arguments, StringComparison.Ordinal);

        var worker = AppOf(await ServiceModule("inference-worker"));
        var others = (await AllApps()).Where(app => app.Node != vllm.Node).ToList();
        Assert.Single(others, app => app.Node == worker.Node);
        Assert.All(others, app => Assert.Equal("Consumption", app.Text("properties.workloadProfileName")));
    }

    [Fact]
    public async Task Every_replica_fits_its_workload_profile()
    {
        // Consumption: vCPU in steps of 0.25 up to 4, memory twice the vCPU in GiB.
        // https://learn.microsoft.com/azure/container-apps/containers#allocations
        var app = AppOf(await ServiceModule("gateway"));
        var sizes = app.Scope.Root["variables"]!["sizes"]!.AsObject();
        var allowed = app.Scope.ParameterDefinition("size")["allowedValues"]!.AsArray().Select(size => size!.ToString());
        Assert.Subset(sizes.Select(size => size.Key).ToHashSet(), allowed.ToHashSet());
        foreach (var (_, size) in sizes)
        {
            AssertConsumptionPair(Decimal(size!["cpu"]), Gibibytes(size["memory"]));
        }

        var collector = Assert.Single(CollectorApp(await Resources()).Containers);
        AssertConsumptionPair(Decimal(collector["resources"]!["cpu"]), Gibibytes(collector["resources"]!["memory"]));

        // Serverless GPU: a replica is the whole profile, T4 8 vCPU / 56 GiB, A100 24 vCPU / 220 GiB.
        // https://learn.microsoft.com/azure/azure-functions/functions-container-apps-gpu#supported-gpu-types
        var profiles = GpuProfiles(await Resources());
        Assert.Equal(("Consumption-GPU-NC8as-T4", 8m, 56m), Shape(profiles["T4"]!));
        Assert.Equal(("Consumption-GPU-NC24-A100", 24m, 220m), Shape(profiles["A100"]!));
        var vllm = Assert.Single(VllmApp(await Resources()).Containers);
        Assert.Equal("[json(variables('profile').cpu)]", ArmTemplate.Text(vllm["resources"]!["cpu"]));
        Assert.Equal("[variables('profile').memory]", ArmTemplate.Text(vllm["resources"]!["memory"]));
    }

    [Fact]
    public async Task Self_hosted_models_fit_one_gpu_of_their_profile()
    {
        var profiles = GpuProfiles(await Resources());
        var selfHosted = Infra.Portfolio().Select(model => model!.AsObject()).Where(model => model["backend"]!.ToString() == "vllm").ToList();

        Assert.NotEmpty(selfHosted);
        foreach (var model in selfHosted)
        {
            var profile = profiles[model["gpu"]!.ToString()]?.AsObject();
            Assert.True(profile is not null, $"{model["name"]}: gpu must be one of {string.Join(", ", profiles.Select(p => p.Key))}");

            // Weights must leave room for the KV cache in vLLM's 90% of the GPU: 4-bit AWQ/GPTQ
            // checkpoints, since one replica has one GPU and 70B in 16 bits is ~140 GB.
            var bits = QuantizedCheckpoint().IsMatch(model["servedModel"]!.ToString()) ? 4 : 16;
            var weightsGiB = (double)model["parameterCount"]! * bits / 8 / (1 << 30);
            Assert.True(weightsGiB < 0.75 * (int)profile["gpuMemoryGiB"]!, $"{model["name"]}: {weightsGiB:F0} GiB of weights on a {profile["gpuMemoryGiB"]} GB GPU");
        }
    }

    [Fact]
    public async Task Admin_key_and_hugging_face_token_are_key_vault_references()
    {
        var gateway = await ServiceModule("gateway");
        var deployed = await DeployedGateway();
        var env = Infra.Env(deployed).Values;
        Assert.Equal("Keys", Find(env, "Access__Mode")["value"]!.ToString());
        var adminKey = Find(env, "Access__AdminKey");
        Assert.Null(adminKey["value"]);
        Assert.EndsWith("'gateway-admin-key')]", Infra.SecretUrl(deployed, adminKey["secretRef"]!.ToString()), StringComparison.Ordinal);

        // app.bicep turns every secret into a Key Vault reference read with the app's identity.
        var secrets = AppOf(gateway).Node["properties"]!["configuration"]!["copy"]!.AsArray().Single(copy => copy!["name"]!.ToString() == "secrets")!;
        Assert.Equal(["identity", "keyVaultUrl", "name"], secrets["input"]!.AsObject().Select(field => field.Key).Order());
        Assert.Contains("secrets/{1}", ArmTemplate.Text(secrets["input"]!["keyVaultUrl"]), StringComparison.Ordinal);

        var vllm = VllmApp(await Resources());
        var token = Find(vllm.Containers.Single()["env"]!.AsArray().OfType<JsonObject>(), "HF_TOKEN");
        var tokenSecret = Find(vllm.Get("properties.configuration.secrets")!.AsArray().OfType<JsonObject>(), token["secretRef"]!.ToString());
        Assert.Null(tokenSecret["value"]);
        Assert.Contains("secrets/hf-token", ArmTemplate.Text(tokenSecret["keyVaultUrl"]), StringComparison.Ordinal);
        Assert.NotNull(tokenSecret["identity"]);

        // The provision writes both from secure parameters: the admin key generated by azd, the
        // Hugging Face token from HF_TOKEN.
        var resources = await Resources();
        Assert.Equal("[parameters('gatewayAdminKey')]", VaultSecret(resources, "gateway-admin-key"));
        Assert.Equal("[parameters('huggingFaceToken')]", VaultSecret(resources, "hf-token"));
        var main = await Infra.Template("main");
        Assert.Equal("generate", main.ParameterDefinition("gatewayAdminKey")["metadata"]!["azd"]!["type"]!.ToString());
        Assert.Equal("${HF_TOKEN}", Infra.ParametersFile("main")["huggingFaceToken"]!["value"]!.ToString());
        Assert.All((await AllApps()).SelectMany(app => app.Scope.Items(app.Get("properties.configuration.secrets"))), secret => Assert.Null(secret?["value"]));
    }

    [Fact]
    public async Task Ledger_journal_is_an_azure_files_share_mounted_at_the_journal_root()
    {
        var gateway = await ServiceModule("gateway");
        var deployed = await DeployedGateway();
        var env = Infra.Env(deployed).Values;
        var volume = Assert.Single(Entries(gateway, "volumes"));
        var journal = Find(env, "Ledger__Directory")["value"]!.ToString();

        // The Gateway journals in a sub-folder per replica (CONTAINER_APP_REPLICA_NAME), so the whole share is mounted.
        var mount = Assert.Single(deployed["properties"]!["template"]!["containers"]![0]!["volumeMounts"]!.AsArray())!;
        Assert.Equal(mount["mountPath"]!.ToString(), journal);
        Assert.Null(mount["subPath"]);
        var app = AppOf(gateway);
        var volumes = app.Node["properties"]!["template"]!["copy"]!.AsArray().Single(copy => copy!["name"]!.ToString() == "volumes")!;
        Assert.Equal("AzureFile", volumes["input"]!["storageType"]!.ToString());

        var resources = await Resources();
        var storage = Assert.Single(resources.OfType("Microsoft.App/managedEnvironments/storages"), resource => resource.Text("name").Contains($"'{volume["storageName"]}'", StringComparison.Ordinal));
        Assert.Equal("ReadWrite", storage.Text("properties.azureFile.accessMode"));
        Assert.Contains(resources.OfType("Microsoft.Storage/storageAccounts/fileServices/shares"), share => share.Text("name").Contains($"'{volume["storageName"]}'", StringComparison.Ordinal));

        // Scale-in waits for the Gateway to finish streams and flush its journal; the host gives up a little earlier.
        var grace = (int)gateway.Argument("terminationGracePeriodSeconds")!;
        Assert.InRange(grace, 60, 600);
        Assert.True(int.Parse(Find(env, "ASPNETCORE_SHUTDOWNTIMEOUTSECONDS")["value"]!.ToString(), CultureInfo.InvariantCulture) < grace);
    }

    [Fact]
    public async Task Cache_is_azure_managed_redis_with_a_matching_connection_string()
    {
        var resources = await Resources();

        Assert.Empty(resources.OfType("Microsoft.Cache/redis"));
        Assert.Single(resources.OfType("Microsoft.Cache/redisEnterprise"));
        var database = Assert.Single(resources.OfType("Microsoft.Cache/redisEnterprise/databases"));
        Assert.Equal("Encrypted", database.Text("properties.clientProtocol"));
        Assert.Equal("Enabled", database.Text("properties.accessKeysAuthentication"));
        Assert.Equal("EnterpriseCluster", database.Text("properties.clusteringPolicy"));
        var port = (int)database.Get("properties.port")!;
        Assert.Equal(10000, port);

        var connection = VaultSecret(resources, "cache-connection");
        var format = StackExchangeRedis().Match(connection);
        Assert.True(format.Success, connection);
        Assert.Equal(port, int.Parse(format.Groups["port"].Value, CultureInfo.InvariantCulture));
        Assert.Contains($"listKeys('{database.SymbolicName}'", connection, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_portfolio_has_one_source()
    {
        foreach (var template in await Infra.AllTemplates())
        {
            Assert.DoesNotContain("Portfolio__Models__", ArmTemplate.Text(template.Root), StringComparison.Ordinal);
            Assert.Null(template.Root["parameters"]?["models"]);
        }

        // Every template that knows the portfolio reads it from infra/portfolio.json.
        var expected = Infra.Portfolio().Select(model => model!["name"]!.ToString());
        var readers = (await Infra.AllTemplates()).SelectMany(Scopes)
            .SelectMany(scope => (scope.Root["variables"]?.AsObject() ?? []).Where(variable => variable.Key.Split('.')[^1] == "portfolio").Select(variable => (scope, variable.Key)))
            .ToList();
        Assert.NotEmpty(readers);
        foreach (var (scope, variable) in readers)
        {
            Assert.Equal(expected, scope.Items(scope.Variable(variable)).Select(model => model!["name"]!.ToString()));
        }

        // The Gateway gets the deployed portfolio as one JSON setting that replaces appsettings.json's.
        var deployed = JsonNode.Parse(Find(Infra.Env(await DeployedGateway()).Values, "Portfolio__Json")["value"]!.ToString())!.AsArray();
        Assert.Equal(expected, deployed.Select(model => model!["name"]!.ToString()));
        Assert.Equal(
            ["contextLength", "inProcess", "inputUsdPerMillionTokens", "name", "outputUsdPerMillionTokens", "parameterCount", "tier", "worker"],
            deployed.SelectMany(model => model!.AsObject().Select(field => field.Key)).Distinct().Order());
    }

    [Fact]
    public async Task Every_worker_runs_the_worker_image()
    {
        var workers = await ServiceModule("inference-worker");

        // One app per deployed model, all created from the image azd just built for inference-worker.
        Assert.Contains("workerModels", ArmTemplate.Text(workers.Node["copy"]?["count"]), StringComparison.Ordinal);
        Assert.Equal("[parameters('image')]", workers.ArgumentText("image"));
        Assert.Equal("${SERVICE_INFERENCE_WORKER_IMAGE_NAME}", Infra.ParametersFile("inference-worker")["image"]!["value"]!.ToString());

        // azd resolves the service's target by its tag and needs exactly one app to carry it.
        var tag = workers.ArgumentText("azdServiceName");
        Assert.Contains("copyIndex()", tag, StringComparison.Ordinal);
        Assert.Contains("'inference-worker'", tag, StringComparison.Ordinal);

        // The provision creates no worker that could keep an older image: only vLLM and the metrics collector.
        Assert.Equal(["collector", "vllm"], (await Resources()).OfType(ContainerApps).Select(app => app.Containers.Single()["name"]!.ToString()).Order());
    }

    [Fact]
    public async Task Metrics_leave_through_an_otlp_destination()
    {
        var resources = await Resources();
        var telemetry = resources.Declared("environmentWithMetrics").Argument("openTelemetry")!.AsObject();

        // Application Insights takes traces and logs, not metrics: metrics go to an OTLP endpoint.
        // https://learn.microsoft.com/azure/container-apps/opentelemetry-agents#known-limitations
        Assert.Equal(["appInsights"], Destinations(telemetry, "tracesConfiguration"));
        Assert.Equal(["appInsights"], Destinations(telemetry, "logsConfiguration"));
        var metrics = Assert.Single(Destinations(telemetry, "metricsConfiguration"));
        var otlp = telemetry["destinationsConfiguration"]!["otlpConfigurations"]!.AsArray().Single(destination => destination!["name"]!.ToString() == metrics)!;
        Assert.False((bool)otlp["insecure"]!);
        Assert.Contains("'metricsCollector'", ArmTemplate.Text(otlp["endpoint"]), StringComparison.Ordinal);
        Assert.Equal("authorization", otlp["headers"]![0]!["key"]!.ToString());

        // The collector takes OTLP/gRPC on its ingress port with that token and exports metrics to Application Insights.
        var collector = CollectorApp(resources);
        var configuration = new YamlStream();
        configuration.Load(new StringReader(collector.Scope.Root["variables"]!["configuration"]!.ToString()));
        var root = (YamlMappingNode)configuration.Documents[0].RootNode;
        var pipeline = (YamlMappingNode)root["service"]["pipelines"]["metrics"];
        Assert.Equal(["otlp"], ((YamlSequenceNode)pipeline["receivers"]).Select(node => node.ToString()));
        Assert.Equal(["azuremonitor"], ((YamlSequenceNode)pipeline["exporters"]).Select(node => node.ToString()));
        var grpc = (YamlMappingNode)root["receivers"]["otlp"]["protocols"]["grpc"];
        Assert.Equal("bearertokenauth", grpc["auth"]["authenticator"].ToString());
        Assert.EndsWith($":{collector.Get("properties.configuration.ingress.targetPort")}", grpc["endpoint"].ToString(), StringComparison.Ordinal);
        Assert.Equal("http2", collector.Text("properties.configuration.ingress.transport"));
    }

    [Fact]
    public async Task Services_are_wired_with_the_apphost_conventions()
    {
        var app = AppOf(await ServiceModule("gateway"));
        var kestrel = ArmTemplate.Text(app.Scope.Root["variables"]!["kestrel"]);
        Assert.Contains("'Kestrel__Endpoints__grpc__Protocols', 'value', 'Http2'", kestrel, StringComparison.Ordinal);
        var env = ArmTemplate.Text(app.Containers.Single()["env"]);
        Assert.Contains("'OTEL_SERVICE_NAME'", env, StringComparison.Ordinal);
        Assert.Contains("'services__{0}__grpc__0'", env, StringComparison.Ordinal);
        Assert.Equal("[if(parameters('grpc'), 'http2', 'auto')]", app.Text("properties.configuration.ingress.transport"));

        var modules = await Task.WhenAll(ServiceTemplates.Select(ServiceModule));
        Assert.Equal(["gateway"], modules.Where(module => module.Argument("external")?.GetValue<bool>() == true).Select(module => module.Argument("name")!.ToString()));
        Assert.All(modules.Where(module => module.Argument("name")?.ToString() != "gateway"), module => Assert.True(module.Argument("grpc")!.GetValue<bool>()));
        foreach (var service in new[] { "gateway", "scoring" })
        {
            var names = Infra.Env(Assert.Single(await Infra.DeployedAppsAsync(service))).Keys.ToList();
            Assert.Contains("ConnectionStrings__cache", names);
            Assert.Contains("ConnectionStrings__ledger", names);
        }
    }

    [Fact]
    public void Portfolio_models_give_valid_container_app_names()
    {
        // Lower-case letters, digits and hyphens, starting with a letter, at most 32 characters.
        // https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp
        foreach (var model in Infra.Portfolio().Select(model => model!["name"]!.ToString()))
        {
            var worker = ServiceNames.Worker(model);
            Assert.Matches(AppName(), worker);
            Assert.Matches(AppName(), "vllm" + worker["worker".Length..]);
        }
    }

    private static readonly string[] ServiceTemplates = [.. Infra.Templates.Where(template => template != "main")];

    /// <summary>The app module a service template deploys (for inference-worker, the per-model loop).</summary>
    private static async Task<ArmResource> ServiceModule(string service) =>
        Assert.Single((await Infra.Template(service)).Resources, resource => resource.IsModule);

    /// <summary>The Gateway app as ARM would deploy it with every model (its env and secrets are computed from the portfolio).</summary>
    private static async Task<JsonObject> DeployedGateway() => Assert.Single(await Infra.DeployedAppsAsync("gateway"));

    private static ArmResource AppOf(ArmResource module) => Assert.Single(module.Module.OfType(ContainerApps));

    /// <summary>The provision's resource-group template (modules/resources.bicep).</summary>
    private static async Task<ArmTemplate> Resources() => (await Infra.Template("main")).Declared("resources").Module;

    private static async Task<IReadOnlyList<ArmResource>> AllApps() =>
        [.. (await Infra.AllTemplates()).SelectMany(template => template.OfType(ContainerApps))];

    private static ArmResource VllmApp(ArmTemplate resources) => Assert.Single(resources.Declared("vllmApps").Module.OfType(ContainerApps));

    private static ArmResource CollectorApp(ArmTemplate resources) => Assert.Single(resources.Declared("metricsCollector").Module.OfType(ContainerApps));

    private static JsonObject GpuProfiles(ArmTemplate resources) => resources.Variable("gpuProfiles")!.AsObject();

    private static IEnumerable<ArmTemplate> Scopes(ArmTemplate template) =>
        template.Resources.Where(resource => resource.IsModule).SelectMany(resource => Scopes(resource.Module)).Prepend(template);

    /// <summary>The resolved items of an array a module deployment passes.</summary>
    private static IReadOnlyList<JsonObject> Entries(ArmResource module, string parameter) =>
        [.. module.Scope.Items(module.Argument(parameter)).OfType<JsonObject>()];

    private static JsonObject Find(IEnumerable<JsonObject> entries, string name) =>
        Assert.Single(entries, entry => entry["name"]?.ToString() == name);

    private static string VaultSecret(ArmTemplate resources, string name) =>
        Assert.Single(resources.OfType("Microsoft.KeyVault/vaults/secrets"), secret => secret.Text("name").EndsWith($"'{name}')]", StringComparison.Ordinal)).Text("properties.value");

    private static IEnumerable<string> Destinations(JsonObject telemetry, string signal) =>
        telemetry[signal]!["destinations"]!.AsArray().Select(destination => destination!.ToString());

    private static (string Type, decimal Cpu, decimal Memory) Shape(JsonNode profile) =>
        (profile["type"]!.ToString(), Decimal(profile["cpu"]), Gibibytes(profile["memory"]));

    private static void AssertConsumptionPair(decimal cpu, decimal memory)
    {
        Assert.InRange(cpu, 0.25m, 4m);
        Assert.Equal(0m, cpu % 0.25m);
        Assert.Equal(cpu * 2, memory);
    }

    /// <summary>A CPU value as Bicep compiles it: "0.5", 1 or "[json('0.5')]".</summary>
    private static decimal Decimal(JsonNode? node) =>
        decimal.Parse(JsonNumber().Match(ArmTemplate.Text(node)) is { Success: true } json ? json.Groups["number"].Value : ArmTemplate.Text(node), CultureInfo.InvariantCulture);

    private static decimal Gibibytes(JsonNode? node) =>
        decimal.Parse(ArmTemplate.Text(node).Replace("Gi", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\[json\('(?<number>[0-9.]+)'\)\]$")]
    private static partial Regex JsonNumber();

    [GeneratedRegex("(AWQ|GPTQ|INT4)", RegexOptions.IgnoreCase)]
    private static partial Regex QuantizedCheckpoint();

    [GeneratedRegex(@"format\('\{0\}:(?<port>\d+),password=\{1\},ssl=True,abortConnect=False'")]
    private static partial Regex StackExchangeRedis();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
    private static partial Regex AppName();
}
