using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace Router.Infra.Tests;

/// <summary>
/// The repository's azd project: azure.yaml, the Bicep under infra/ and its compiled ARM JSON,
/// built with the Bicep CLI restored from NuGet (each file once per test run).
/// </summary>
internal static class Infra
{
    public static readonly string Root = Path.GetFullPath(Metadata("RepositoryRoot"));
    public static readonly string Folder = Path.Combine(Root, "infra");

    /// <summary>The build configuration of the tests, and so of the AppHost they built.</summary>
    public static readonly string Configuration = Metadata("Configuration");

    /// <summary>The provision template and the template azd deploys for each service.</summary>
    public static readonly string[] Templates = ["main", "gateway", "scoring", "policy", "classifier", "inference-worker"];

    // One CLI run compiles every template: starting the CLI costs more than compiling.
    private static readonly Lazy<Task<IReadOnlyDictionary<string, ArmTemplate>>> Compiled = new(BuildAllAsync);

    public static async Task<ArmTemplate> Template(string name) => (await Compiled.Value)[name];

    public static async Task<IReadOnlyList<ArmTemplate>> AllTemplates()
    {
        var compiled = await Compiled.Value;
        return [.. Templates.Select(name => compiled[name])];
    }

    public static Task<(int Exit, string Output, string Diagnostics)> BicepAsync(params string[] arguments) => BicepInAsync(Folder, arguments);

    /// <summary>
    /// What ARM would deploy from a template with these parameters (Bicep expressions): `bicep
    /// snapshot` evaluates it offline with the same template engine, leaving as expressions only
    /// values known once the deployment runs (another resource's properties). It runs on a copy of
    /// infra/, which <paramref name="prepare"/> may change first. Returns the predicted resources and
    /// the outputs.
    /// </summary>
    public static async Task<(IReadOnlyList<JsonObject> Resources, JsonObject Outputs)> SnapshotAsync(string template, IReadOnlyDictionary<string, string> parameters, Action<string>? prepare = null)
    {
        var copy = Directory.CreateTempSubdirectory("router-snapshot-");
        try
        {
            foreach (var file in Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy.FullName, Path.GetRelativePath(Folder, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            prepare?.Invoke(copy.FullName);
            var name = Path.GetFileName(template);
            var bicepParameters = Path.Combine(copy.FullName, $"{name}.bicepparam");
            File.WriteAllLines(bicepParameters, [
                $"using '{template}.bicep'",
                .. parameters.Select(parameter => $"param {parameter.Key} = {parameter.Value}"),
            ]);
            var (exit, stdout, diagnostics) = await BicepInAsync(copy.FullName, "snapshot", bicepParameters,
                "--subscription-id", "00000000-0000-0000-0000-000000000001", "--resource-group", "rg-router", "--location", "swedencentral");
            Assert.True(exit == 0, stdout + diagnostics);
            var snapshot = JsonNode.Parse(File.ReadAllText(Path.Combine(copy.FullName, $"{name}.snapshot.json")))!;
            Assert.Empty(snapshot["diagnostics"]!.AsArray());
            return ([.. snapshot["predictedResources"]!.AsArray().Select(resource => resource!.AsObject())], snapshot["outputs"]!.AsObject());
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    /// <summary>A <see cref="SnapshotAsync"/> preparation that changes the copy's portfolio.json.</summary>
    public static Action<string> ChangePortfolio(Action<JsonArray> change) => folder =>
    {
        var path = Path.Combine(folder, "portfolio.json");
        var document = JsonNode.Parse(File.ReadAllText(path))!;
        change(document["models"]!.AsArray());
        File.WriteAllText(path, document.ToJsonString());
    };

    /// <summary>A string as a Bicep literal.</summary>
    public static string Literal(string value) => $"'{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'";

    /// <summary>Every model of the portfolio, as the provision's ROUTER_MODELS output names them when all are deployed.</summary>
    public const string AllModels = "llama3.1-8b,llama3.1-70b,gpt-4o";

    /// <summary>
    /// The container apps a service template deploys (<see cref="SnapshotAsync"/>) with the values
    /// azd passes it for an environment where every model was deployed, and any others given.
    /// </summary>
    public static Task<IReadOnlyList<JsonObject>> DeployedAppsAsync(string template, Action<JsonArray>? portfolio = null, params (string Name, string Value)[] parameters) =>
        portfolio is null && parameters.Length == 0
            ? DefaultDeployments.GetOrAdd(template, name => new(() => EvaluateAppsAsync(name, null, []))).Value
            : EvaluateAppsAsync(template, portfolio, parameters);

    // Several tests read the same default deployment of a template: it is evaluated once per run,
    // like the compiled templates. Tests only read what it returns.
    private static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<JsonObject>>>> DefaultDeployments = new(StringComparer.Ordinal);

    private static async Task<IReadOnlyList<JsonObject>> EvaluateAppsAsync(string template, Action<JsonArray>? portfolio, (string Name, string Value)[] parameters)
    {
        var values = new Dictionary<string, string>
        {
            ["environmentName"] = Literal("router"),
            ["image"] = Literal($"registry.example/{template}:1"),
            ["routerModels"] = Literal(AllModels),
        };
        foreach (var (name, value) in parameters)
        {
            values[name] = Literal(value);
        }

        // Only what the template declares: a .bicepparam may not set a parameter its template lacks.
        var declared = (await Template(template)).Root["parameters"]!.AsObject();
        var (resources, _) = await SnapshotAsync(template, values.Where(value => declared.ContainsKey(value.Key)).ToDictionary(), portfolio is null ? null : ChangePortfolio(portfolio));
        return [.. resources.Where(resource => resource["type"]!.ToString() == "Microsoft.App/containerApps")];
    }

    /// <summary>A deployed app's container environment by name.</summary>
    public static Dictionary<string, JsonObject> Env(JsonObject app) =>
        app["properties"]!["template"]!["containers"]![0]!["env"]!.AsArray().Select(entry => entry!.AsObject()).ToDictionary(entry => entry["name"]!.ToString());

    /// <summary>The Key Vault URL expression of one of a deployed app's secrets.</summary>
    public static string SecretUrl(JsonObject app, string name) =>
        Assert.Single(app["properties"]!["configuration"]!["secrets"]!.AsArray(), secret => secret!["name"]!.ToString() == name)!["keyVaultUrl"]!.ToString();

    private static async Task<(int Exit, string Output, string Diagnostics)> BicepInAsync(string folder, params string[] arguments)
    {
        var bicep = Path.Combine(Metadata("BicepPackage"), "tools", "bicep");
        Assert.True(File.Exists(bicep), $"the Bicep CLI was not restored at {bicep}");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo(bicep) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The CLI only reads local files here: no registry modules, no telemetry.
        start.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>azure.yaml as a YAML tree.</summary>
    public static YamlMappingNode AzureYaml()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Root, "azure.yaml"));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    public static YamlMappingNode Services() => (YamlMappingNode)AzureYaml()["services"];

    /// <summary>A template's parameters file (main.parameters.json, gateway.parameters.json, ...).</summary>
    public static JsonObject ParametersFile(string template) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, $"{template}.parameters.json")))!["parameters"]!.AsObject();

    /// <summary>infra/portfolio.json's models.</summary>
    public static JsonArray Portfolio() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "portfolio.json")))!["models"]!.AsArray();

    private static async Task<IReadOnlyDictionary<string, ArmTemplate>> BuildAllAsync()
    {
        var output = Directory.CreateTempSubdirectory("router-infra-");
        try
        {
            var (exit, stdout, diagnostics) = await BicepAsync("build", "--pattern", "*.bicep", "--outdir", output.FullName);
            Assert.True(exit == 0, stdout + diagnostics);
            Assert.True((stdout + diagnostics).Trim().Length == 0, stdout + diagnostics);
            var compiled = output.EnumerateFiles("*.json").ToDictionary(
                file => Path.GetFileNameWithoutExtension(file.Name),
                file => new ArmTemplate(JsonNode.Parse(File.ReadAllText(file.FullName))!.AsObject()));
            Assert.Equal(Templates.Order(), compiled.Keys.Order());
            return compiled;
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private static string Metadata(string key) =>
        typeof(Infra).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
