using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>Runs the built AppHost exactly as 'dotnet run --project AppHost' does, then stops it with SIGTERM.</summary>
public sealed partial class AppHostTests
{
    [Fact]
    public async Task Starts_redis_postgres_and_the_gateway_then_stops_everything_on_sigterm()
    {
        var project = new Projects.AppHost();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new List<string>();
        await using var appHost = ChildProcess.Start(
            "dotnet",
            [project.AssemblyPath],
            new Dictionary<string, string?>
            {
                ["ROUTER_APPHOST_STATE"] = Path.Combine(TestState.Directory, "apphost"),
                ["ConnectionStrings__cache"] = null,
                ["ConnectionStrings__ledger"] = null,
            },
            Path.GetDirectoryName(project.ProjectPath),
            outputLine: line =>
            {
                lock (lines)
                {
                    lines.Add(line);
                }

                if (line.Contains("[apphost] gateway", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });

        await Task.WhenAny(ready.Task, appHost.Exited).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(ready.Task.IsCompleted, "AppHost exited before it was ready:\n" + string.Join('\n', appHost.Tail));
        string output;
        lock (lines)
        {
            output = string.Join('\n', lines);
        }

        var gatewayUrl = TableAddress().Match(output, output.IndexOf("[apphost] gateway", StringComparison.Ordinal)).Groups["url"].Value;
        var ports = new[]
        {
            Port(output, "cache"), Port(output, "postgres"), new Uri(gatewayUrl).Port,
        };
        var children = ChildProcessIds(appHost.Id);
        Assert.True(children.Count >= 3, $"expected Redis, PostgreSQL and the Gateway as children, found {children.Count}");

        using var http = new HttpClient { BaseAddress = new Uri(gatewayUrl) };
        using var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var healthBody = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", healthBody.RootElement.GetProperty("status").GetString());
        var models = await http.GetStringAsync("/v1/models");
        Assert.Contains("\"llama3.1-8b\"", models, StringComparison.Ordinal);

        await appHost.StopAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, await appHost.Exited);
        Assert.All(ports, port => Assert.False(FreePort.IsListening(port), $"port {port} still listening"));
        Assert.All(children, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} outlived the AppHost"));
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

    [GeneratedRegex(@"(?<url>http://127\.0\.0\.1:\d+)")]
    private static partial Regex TableAddress();
}
