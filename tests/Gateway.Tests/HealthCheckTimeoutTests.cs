using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Router.Gateway.Tests;

public sealed class HealthCheckTimeoutTests
{
    [Fact]
    public async Task A_check_that_ignores_its_token_is_reported_at_its_timeout_instead_of_holding_health_up()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHealthChecks().AddCheck<CheckThatNeverAnswers>("frozen");
        services.ConfigureHealthCheck("frozen", "cache", HealthStatus.Degraded, TimeSpan.FromMilliseconds(20));
        await using var provider = services.BuildServiceProvider();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Degraded, report.Entries["cache"].Status);
    }

    private sealed class CheckThatNeverAnswers : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            new TaskCompletionSource<HealthCheckResult>().Task;
    }
}
