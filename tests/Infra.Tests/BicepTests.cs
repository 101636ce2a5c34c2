using System.Text.RegularExpressions;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace Router.Infra.Tests;

/// <summary>
/// The azd project compiles and lints clean, and azure.yaml, the solution's services and the
/// per-service templates azd deploys agree with each other and with what the provision outputs.
/// </summary>
public sealed partial class BicepTests
{
    [Fact]
    public async Task Every_template_builds_without_warnings()
    {
        // Infra builds the provision template and each service's deploy template, failing on any diagnostic.
        var compiled = await Infra.AllTemplates();

        Assert.All(compiled, template => Assert.NotEmpty(template.AllResources()));
    }

    [Fact]
    public async Task Every_template_lints_clean_under_the_projects_rules()
    {
        var (exit, output, diagnostics) = await Infra.BicepAsync("lint", "--pattern", "*.bicep");

        Assert.True(exit == 0, output + diagnostics);
        Assert.Equal(string.Empty, (output + diagnostics).Trim());
        Assert.True(File.Exists(Path.Combine(Infra.Folder, "bicepconfig.json")));
    }

    [Fact]
    public void Every_service_of_the_solution_is_an_azd_service_with_its_deploy_template()
    {
        var services = Infra.Services();
        var projects = services.Children.ToDictionary(
            service => ((YamlScalarNode)service.Key).Value!,
            service => ((YamlScalarNode)((YamlMappingNode)service.Value)["project"]).Value!);

        Assert.Equal(ServiceProjects().Order(), projects.Values.Select(path => path.TrimStart('.', '/')).Order());
        foreach (var (service, _) in projects)
        {
            var definition = (YamlMappingNode)services[service];
            Assert.Equal("containerapp", ((YamlScalarNode)definition["host"]).Value);

            // azd deploys infra/<service>.bicep with <service>.parameters.json after pushing the image.
            Assert.True(File.Exists(Path.Combine(Infra.Folder, $"{service}.bicep")), $"infra/{service}.bicep");
            var image = Infra.ParametersFile(service)["image"]!["value"]!.ToString();
            Assert.Equal($"${{SERVICE_{service.ToUpperInvariant().Replace('-', '_')}_IMAGE_NAME}}", image);
        }
    }

    [Fact]
    public void Azure_yaml_requires_an_azd_that_deploys_service_templates()
    {
        // Bicep revision deployment of container apps (infra/<service>.bicep) shipped in azd 1.20.0.
        var required = ((YamlScalarNode)((YamlMappingNode)Infra.AzureYaml()["requiredVersions"])["azd"]).Value!;

        Assert.Matches(@"^>=\s*1\.(2\d|[3-9]\d)\.\d+$", required);
    }

    [Fact]
    public async Task Deploy_templates_read_only_values_azd_sets_or_the_provision_outputs()
    {
        var main = await Infra.Template("main");
        var outputs = main.Root["outputs"]!.AsObject().Select(output => output.Key).ToHashSet();

        foreach (var service in Infra.Services().Children.Select(service => ((YamlScalarNode)service.Key).Value!))
        {
            foreach (Match reference in EnvironmentReference().Matches(Infra.ParametersFile(service).ToJsonString()))
            {
                var name = reference.Groups["name"].Value;
                var optional = reference.Groups["default"].Success;
                Assert.True(
                    name == "AZURE_ENV_NAME" || name.StartsWith("SERVICE_", StringComparison.Ordinal) || outputs.Contains(name) || optional,
                    $"{service}.parameters.json reads ${{{name}}}, which neither azd nor the provision sets");
            }
        }
    }

    [Fact]
    public async Task Provision_parameters_are_mapped_generated_or_defaulted()
    {
        var main = await Infra.Template("main");
        var mapped = Infra.ParametersFile("main");

        foreach (var (name, definition) in main.Root["parameters"]!.AsObject())
        {
            var generated = definition!["metadata"]?["azd"]?["type"]?.ToString() == "generate";
            var defaulted = definition["defaultValue"] is not null;
            Assert.True(mapped.ContainsKey(name) || generated || defaulted, $"main.bicep parameter {name} has no value: azd would prompt for it on every new environment");
            if (generated)
            {
                // A mapped value would win over generation.
                Assert.False(mapped.ContainsKey(name), name);
                Assert.Equal("securestring", definition["type"]!.ToString());
            }
        }
    }

    /// <summary>Projects under services/ that are ASP.NET Core hosts, as listed in the solution file.</summary>
    private static IEnumerable<string> ServiceProjects() =>
        SolutionProject().Matches(File.ReadAllText(Path.Combine(Infra.Root, "Router.Aspire.sln")))
            .Select(m => m.Groups["path"].Value.Replace('\\', '/'))
            .Where(path => path.StartsWith("services/", StringComparison.Ordinal))
            .Where(path => File.ReadAllText(Path.Combine(Infra.Root, path)).Contains("Microsoft.NET.Sdk.Web", StringComparison.Ordinal))
            .Select(path => Path.GetDirectoryName(path)!.Replace('\\', '/'));

    [GeneratedRegex(@"Project\(""\{[^}]+\}""\) = ""[^""]+"", ""(?<path>[^""]+\.csproj)""")]
    private static partial Regex SolutionProject();

    [GeneratedRegex(@"\$\{(?<name>[A-Z0-9_]+)(?<default>=[^}]*)?\}")]
    private static partial Regex EnvironmentReference();
}
