using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Router.LocalServers;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>Runs the built AppHost exactly as 'dotnet run --project AppHost' does, then stops it with SIGTERM.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task Starts_redis_postgres_and_every_service_then_stops_everything_on_sigterm()
    {
        var appHost = await AppHostProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = null,
            ["ConnectionStrings__ledger"] = null,
        });
        var output = appHost.Output;
        int[] ports = [Port(output, "cache"), Port(output, "postgres"), appHost.Gateway.Port];
        var children = ChildProcessIds(appHost.Process.Id);
        Assert.True(children.Count >= 9, $"expected Redis, PostgreSQL, three workers, Scoring, Policy, Classifier and the Gateway as children, found {children.Count}");
        foreach (var service in new[] { "worker-llama3-1-8b", "worker-llama3-1-70b", "worker-gpt-4o", "scoring", "policy", "classifier", "gateway" })
        {
            Assert.Contains($"[apphost] {service} ", output, StringComparison.Ordinal);
        }

        using var http = new HttpClient { BaseAddress = appHost.Gateway };
        using var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var healthBody = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", healthBody.RootElement.GetProperty("status").GetString());
        var models = await http.GetStringAsync("/v1/models");
        Assert.Contains("\"llama3.1-8b\"", models, StringComparison.Ordinal);

        await appHost.Process.StopAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, await appHost.Process.Exited);
        Assert.All(ports, port => Assert.False(FreePort.IsListening(port), $"port {port} still listening"));
        Assert.All(children, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} outlived the AppHost"));
        await appHost.DisposeAsync();
    }

    private static int Port(string output, string resource)
    {
        var match = new Regex($@"\[apphost\] {resource}\s+\S+\s+127\.0\.0\.1:(\d+)").Match(output);
        Assert.True(match.Success, $"no address for {resource} in:\n{output}");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static List<int> ChildProcessIds(int parent) =>
        [.. Directory.GetDirectories($"/proc/{parent}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pid => int.Parse(pid, CultureInfo.InvariantCulture))];
}
