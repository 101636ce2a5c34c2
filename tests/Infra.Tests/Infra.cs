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

    public static async Task<(int Exit, string Output, string Diagnostics)> BicepAsync(params string[] arguments)
    {
        var bicep = Path.Combine(Metadata("BicepPackage"), "tools", "bicep");
        Assert.True(File.Exists(bicep), $"the Bicep CLI was not restored at {bicep}");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo(bicep) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Folder };
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
