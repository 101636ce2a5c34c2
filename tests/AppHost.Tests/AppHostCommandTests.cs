using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Router.LocalServers;
using Router.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Router.AppHost.Tests;

/// <summary>
/// <c>dotnet run --project AppHost</c>, twice, one run after the other: the console says where the
/// Gateway and the dashboard are once everything is healthy, the dashboard lists every resource as
/// running (a screenshot of its resource page is saved), the Gateway answers, Ctrl+C leaves no
/// process, listening port or data behind, and the second run sees nothing of the first.
/// </summary>
public sealed class AppHostCommandTests(ITestOutputHelper output)
{
    private static readonly string[] Resources =
    [
        "cache", "postgres", "ledger", "ledger-migrations", "worker-llama3-1-8b", "worker-llama3-1-70b", "worker-gpt-4o",
        "scoring", "policy", "classifier", "gateway",
    ];

    [Fact]
    public async Task Runs_show_the_dashboard_answer_and_leave_nothing_behind_on_ctrl_c()
    {
        string firstRequest;
        string firstFolder;
        await using (var first = await AppHostCommand.StartAsync())
        {
            firstFolder = first.RunFolder;
            Assert.True(Directory.Exists(firstFolder));
            Assert.Equal(first.GatewayPort, first.Gateway.Port);
            Assert.DoesNotContain("[worker-", first.Output, StringComparison.Ordinal);

            using var http = new HttpClient { BaseAddress = first.Gateway };
            using var chat = await http.PostAsJsonAsync("/v1/chat/completions", new { model = "auto", messages = new[] { new { role = "user", content = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn" } } });
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            firstRequest = (await chat.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

            await ScreenshotDashboardAsync(first.DashboardLogin);

            await StopAndCheckNothingIsLeftAsync(first);
            Assert.False(Directory.Exists(firstFolder), $"{firstFolder} outlived its run");
        }

        await using var second = await AppHostCommand.StartAsync();
        Assert.NotEqual(firstFolder, second.RunFolder);
        using (var http = new HttpClient { BaseAddress = second.Gateway })
        {
            using var feedback = await http.PostAsJsonAsync("/v1/feedback", new { request_id = firstRequest, correct = true });
            Assert.Equal(HttpStatusCode.NotFound, feedback.StatusCode);
        }

        await StopAndCheckNothingIsLeftAsync(second);
    }

    private async Task ScreenshotDashboardAsync(string login)
    {
        var chromium = await Chromium.RequireAsync(output.WriteLine);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = chromium, Headless = true, Args = Chromium.Arguments });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1600, Height = 1000 } });
        await page.GotoAsync(login);
        var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard-resources.png");
        try
        {
            // Every resource is listed, the migrations finished and everything else runs.
            await page.GetByText($"Showing {Resources.Length} resources").WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
            foreach (var resource in Resources)
            {
                var row = page.GetByRole(AriaRole.Row).Filter(new LocatorFilterOptions { HasText = resource });
                var expected = resource == "ledger-migrations" ? "Finished" : "Running";
                await Assertions.Expect(row.First).ToContainTextAsync(expected, new LocatorAssertionsToContainTextOptions { Timeout = 60_000 });
            }
        }
        finally
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
            output.WriteLine($"screenshot: {screenshot}");
        }

        var text = await page.InnerTextAsync("body");
        Assert.DoesNotContain("Unhealthy", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed to start", text, StringComparison.Ordinal);
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }

    private static async Task StopAndCheckNothingIsLeftAsync(AppHostCommand run)
    {
        Assert.True(run.Processes.Count >= 12, $"expected the orchestrator, Redis, PostgreSQL and eight services, found {run.Processes.Count} processes");
        Assert.Equal(0, await run.InterruptAsync());

        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (run.Processes.Any(RunProcesses.IsAlive) && !patience.IsCancellationRequested)
        {
            await Task.Delay(200, CancellationToken.None);
        }

        Assert.DoesNotContain(run.Processes, RunProcesses.IsAlive);
        Assert.False(FreePort.IsListening(run.GatewayPort), $"the Gateway's port {run.GatewayPort} is still listening");
        Assert.False(FreePort.IsListening(run.DashboardPort), $"the dashboard's port {run.DashboardPort} is still listening");
        Assert.False(Directory.Exists(run.RunFolder), $"{run.RunFolder} outlived its run");
    }
}
