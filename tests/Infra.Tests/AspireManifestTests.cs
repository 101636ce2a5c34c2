using System.Diagnostics;
using System.Text.Json.Nodes;
using Router.Contracts;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace Router.Infra.Tests;

/// <summary>
/// The real AppHost's publish manifest (<c>--publisher manifest</c>) and the azd project describe the
/// same system: the same service projects, one worker per model of the same portfolio, Redis and
/// PostgreSQL as the two backing stores.
/// </summary>
public sealed class AspireManifestTests
{
    private static readonly Lazy<Task<JsonObject>> Manifest = new(PublishAsync);

    [Fact]
    public async Task Every_project_of_the_manifest_is_deployed_by_azd_and_nothing_else_is()
    {
        var resources = (await Manifest.Value)["resources"]!.AsObject();
        var manifestProjects = resources
            .Where(r => r.Value!["type"]!.ToString().StartsWith("project.", StringComparison.Ordinal))
            .Select(r => Path.GetFileNameWithoutExtension(r.Value!["path"]!.ToString()))
            .ToHashSet();
        var azdProjects = Infra.Services().Children.Values
            .Select(service => Path.GetFileName(((YamlScalarNode)((YamlMappingNode)service)["project"]).Value!.TrimEnd('/')))
            .ToHashSet();

        // In Azure the Gateway applies pending migrations itself before it ships the first rows
        // (EF Core's migration lock makes that safe with several replicas), so the migrations
        // resource is the one project the AppHost runs that azd does not deploy.
        manifestProjects.Remove("LedgerMigrator");
        Assert.Equal(azdProjects.Order(), manifestProjects.Order());
    }

    [Fact]
    public async Task The_manifest_has_a_worker_per_model_of_the_deployed_portfolio_and_the_same_backing_stores()
    {
        var resources = (await Manifest.Value)["resources"]!.AsObject();
        var workers = resources.Where(r => ServiceNames.IsWorker(r.Key)).ToList();
        var models = workers.Select(w => w.Value!["env"]!["Worker__Model"]!.ToString()).Order();
        Assert.Equal(Infra.Portfolio().Select(m => m!["name"]!.ToString()).Order(), models);
        Assert.All(workers, w => Assert.Equal(ServiceNames.Worker(w.Value!["env"]!["Worker__Model"]!.ToString()), w.Key));

        Assert.Equal("container.v0", resources["cache"]!["type"]!.ToString());
        Assert.Equal("container.v0", resources["postgres"]!["type"]!.ToString());
        var gatewayEnvironment = resources["gateway"]!["env"]!.AsObject();
        Assert.Contains("ConnectionStrings__cache", gatewayEnvironment.Select(e => e.Key));
        Assert.Contains("ConnectionStrings__ledger", gatewayEnvironment.Select(e => e.Key));
        Assert.Contains("Portfolio__Json", gatewayEnvironment.Select(e => e.Key));

        // A deployment keeps the secure default: only a local run opens the API without keys.
        Assert.DoesNotContain("Access__Mode", gatewayEnvironment.Select(e => e.Key));
    }

    private static async Task<JsonObject> PublishAsync()
    {
        var output = Directory.CreateTempSubdirectory("router-manifest-");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Infra.Root };
        foreach (var argument in new[]
        {
            "run", "--project", "AppHost", "--no-build", "--no-launch-profile", "-c", Infra.Configuration, "--",
            "--publisher", "manifest", "--output-path", Path.Combine(output.FullName, "aspire-manifest.json"),
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(process.ExitCode == 0, $"the manifest publisher failed: {await stdout}{await stderr}");
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output.FullName, "aspire-manifest.json")))!.AsObject();
        output.Delete(recursive: true);
        return manifest;
    }
}
