using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace Router.Infra.Tests;

/// <summary>
/// The Azure deployment compiles and lints clean with the Bicep CLI restored from NuGet, and
/// names every service of the solution with the same environment conventions as the AppHost.
/// </summary>
public sealed partial class BicepTests
{
    private static readonly string Root = Path.GetFullPath(Metadata("RepositoryRoot"));
    private static readonly string Infra = Path.Combine(Root, "infra");

    [Fact]
    public async Task Main_bicep_builds_without_warnings()
    {
        var (exit, template, diagnostics) = await BicepAsync("build", Path.Combine(Infra, "main.bicep"), "--stdout");

        Assert.True(exit == 0, diagnostics);
        Assert.Equal(string.Empty, diagnostics.Trim());
        Assert.Contains("Microsoft.App/containerApps", template, StringComparison.Ordinal);
        Assert.Contains("Microsoft.App/managedEnvironments", template, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_bicep_lints_clean_under_the_projects_rules()
    {
        var (exit, output, diagnostics) = await BicepAsync("lint", Path.Combine(Infra, "main.bicep"));

        Assert.True(exit == 0, output + diagnostics);
        Assert.Equal(string.Empty, (output + diagnostics).Trim());
        Assert.True(File.Exists(Path.Combine(Infra, "bicepconfig.json")));
    }

    [Fact]
    public void Every_service_of_the_solution_is_in_azure_yaml_and_the_bicep()
    {
        var services = ServiceProjects().ToList();
        var azureYaml = File.ReadAllText(Path.Combine(Root, "azure.yaml"));
        var bicep = string.Concat(Directory.EnumerateFiles(Infra, "*.bicep", SearchOption.AllDirectories).Select(File.ReadAllText));

        Assert.Equal(["Classifier", "Gateway", "InferenceWorker", "Policy", "Scoring"], services.Order());
        foreach (var service in services)
        {
            Assert.Contains($"project: ./services/{service}", azureYaml, StringComparison.Ordinal);
            var appName = service == "InferenceWorker" ? "worker-" : $"'{service.ToLowerInvariant()}'";
            Assert.Contains(appName, bicep, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_bicep_wires_the_same_environment_conventions_as_the_apphost()
    {
        var bicep = string.Concat(Directory.EnumerateFiles(Infra, "*.bicep", SearchOption.AllDirectories).Select(File.ReadAllText));

        foreach (var convention in new[] { "ConnectionStrings__cache", "ConnectionStrings__ledger", "services__${reference}__grpc__0", "Kestrel__Endpoints__grpc__Protocols", "Worker__Backend", "Portfolio__Models__", "OTEL_SERVICE_NAME", "'/alive'", "'/health'" })
        {
            Assert.Contains(convention, bicep, StringComparison.Ordinal);
        }

        Assert.Contains("transport: grpc ? 'http2'", bicep, StringComparison.Ordinal);
        Assert.Contains("external: true", bicep, StringComparison.Ordinal);
        Assert.Single(ExternalIngress().Matches(bicep));
    }

    /// <summary>Projects under services/ that are ASP.NET Core hosts, as listed in the solution file.</summary>
    private static IEnumerable<string> ServiceProjects() =>
        SolutionProject().Matches(File.ReadAllText(Path.Combine(Root, "Router.Aspire.sln")))
            .Select(m => m.Groups["path"].Value.Replace('\\', '/'))
            .Where(path => path.StartsWith("services/", StringComparison.Ordinal))
            .Where(path => File.ReadAllText(Path.Combine(Root, path)).Contains("Microsoft.NET.Sdk.Web", StringComparison.Ordinal))
            .Select(path => Path.GetFileNameWithoutExtension(path));

    private static async Task<(int Exit, string Output, string Diagnostics)> BicepAsync(params string[] arguments)
    {
        var bicep = Path.Combine(Metadata("BicepPackage"), "tools", "bicep");
        Assert.True(File.Exists(bicep), $"the Bicep CLI was not restored at {bicep}");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute);
        }

        var start = new ProcessStartInfo(bicep) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Infra };
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

    private static string Metadata(string key) =>
        typeof(BicepTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    [GeneratedRegex(@"Project\(""\{[^}]+\}""\) = ""[^""]+"", ""(?<path>[^""]+\.csproj)""")]
    private static partial Regex SolutionProject();

    [GeneratedRegex(@"external: true")]
    private static partial Regex ExternalIngress();
}
