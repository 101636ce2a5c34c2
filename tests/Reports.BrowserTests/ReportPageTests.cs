using System.Globalization;
using Microsoft.Playwright;
using Router.Gateway.Tests;
using Router.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Router.Reports.BrowserTests;

/// <summary>
/// Debian's Chromium, headless, through Playwright: the report page over a seeded ledger renders
/// its charts with the seeded totals and the calibration drift panel with a drifted model. Chromium is installed with apt when missing (as Redis and
/// PostgreSQL are); a screenshot is saved for people to look at.
/// </summary>
public sealed class ReportPageTests(PostgresFixture postgres, RedisFixture redis, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IClassFixture<RedisFixture>
{
    [Fact]
    public async Task The_report_page_draws_every_chart_with_the_seeded_totals_and_the_drift_panel()
    {
        var chromium = await Chromium.RequireAsync(output.WriteLine);
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        var day = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
        await ReportSeed.WriteAsync(ledger, day);
        await using var gateway = new GatewayFactory(redis.Server.ConnectionString, ledger, new Dictionary<string, string?> { ["CalibrationDrift:MinimumLabels"] = "100" });
        gateway.StartServer();
        var client = gateway.CreateClient();
        var address = client.BaseAddress!;

        // Answered today, outside the page's date range; right 30 points less often than their confidence.
        await LabelledAnswers.WriteAsync(client, ledger, key: null, team: null, "llama3.1-8b", 150, accuracyShift: -0.3, seed: 1);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = Chromium.Arguments,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync(new Uri(address, "/reports?from=2026-11-01&to=2026-11-08").ToString());
        await page.WaitForSelectorAsync("body[data-loaded='true']", new PageWaitForSelectorOptions { Timeout = 30_000 });

        Assert.Equal(ReportSeed.Requests.ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync("#total-requests", "data-total"));
        var spend = decimal.Parse((await page.GetAttributeAsync("#total-spend", "data-total"))!, CultureInfo.InvariantCulture);
        var counterfactual = decimal.Parse((await page.GetAttributeAsync("#total-counterfactual", "data-total"))!, CultureInfo.InvariantCulture);
        Assert.Equal(ExpectedSpend(), spend);
        Assert.Equal(Enumerable.Range(0, ReportSeed.Requests).Sum(i => 0.002m * (i + 1)), counterfactual);

        Assert.Equal(4 * 2, await page.Locator("#chart-spend circle").CountAsync());
        var modelRequests = await page.Locator("#chart-models rect").EvaluateAllAsync<int[]>("bars => bars.map(b => Number(b.dataset.requests))");
        Assert.Equal(ReportSeed.Requests, modelRequests.Sum());
        Assert.Equal(3, await page.Locator("#chart-funnel rect").CountAsync());
        Assert.Equal(2, await page.Locator("#chart-policies circle").CountAsync());
        Assert.Equal(string.Empty, await page.InnerTextAsync("#error"));

        var drift = page.Locator("#drift-table tbody tr[data-model='llama3.1-8b']");
        Assert.Equal("true", await drift.GetAttributeAsync("data-drifted"));
        Assert.Equal("drifted", await drift.Locator("td.status-drifted").InnerTextAsync());
        Assert.Contains("overconfident", await drift.Locator("td.status-drifted").GetAttributeAsync("title"), StringComparison.Ordinal);

        var screenshot = Path.Combine(AppContext.BaseDirectory, "report-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"screenshot: {screenshot}");
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }

    private static decimal ExpectedSpend() => Enumerable.Range(0, ReportSeed.Requests).Sum(i => 0.0001m * (i + 1) * (1 + (i % 3)));
}
