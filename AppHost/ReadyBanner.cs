using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Router.AppHost.Resources;

namespace Router.AppHost;

/// <summary>
/// Once every resource is healthy, prints where to go: the dashboard's login URL (every service's
/// logs, traces and metrics are there, not on this console), the Gateway's URL and the run folder.
/// </summary>
internal sealed class ReadyBanner(
    DistributedApplicationModel model,
    ResourceNotificationService notifications,
    IConfiguration configuration,
    RunFolder run,
    IResourceBuilder<ProjectResource> gateway) : BackgroundService
{
    public static void Add(IDistributedApplicationBuilder builder, RunFolder run, IResourceBuilder<ProjectResource> gateway) =>
        builder.Services.AddHostedService(services => ActivatorUtilities.CreateInstance<ReadyBanner>(services, run, gateway));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var waits = model.Resources
            .Where(resource => resource is ProjectResource or LocalRedisResource or LocalPostgresResource or LocalPostgresDatabaseResource && !resource.IsRunToCompletion())
            .Select(resource => notifications.WaitForResourceHealthyAsync(resource.Name, stoppingToken));
        try
        {
            await Task.WhenAll(waits);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var gatewayUrl = gateway.GetEndpoint(ServiceEndpoints.Http).Url;
        var lines = new List<string>
        {
            string.Empty,
            "Router is running; every resource is healthy. Press Ctrl+C to stop.",
            $"  Gateway:   {gatewayUrl}   (try: curl {gatewayUrl}/v1/models)",
            $"  Dashboard: {DashboardUrl() ?? "off"}",
            $"  Run data:  {run.Path} ({(run.Keep ? "kept after the run" : "removed on stop; AppHost__KeepData=true keeps it")})",
            string.Empty,
        };
        await Console.Out.WriteLineAsync(string.Join(Environment.NewLine, lines));
    }

    private string? DashboardUrl()
    {
        var first = configuration["ASPNETCORE_URLS"]?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is null || !Uri.TryCreate(first, UriKind.Absolute, out var url))
        {
            return null;
        }

        var root = url.GetLeftPart(UriPartial.Authority);
        return configuration["AppHost:BrowserToken"] is { Length: > 0 } token ? $"{root}/login?t={token}" : root;
    }
}

/// <summary>Marks a resource that does its work and exits, so nobody waits for it to be healthy.</summary>
internal sealed class RunsToCompletionAnnotation : IResourceAnnotation;

internal static class RunToCompletion
{
    public static IResourceBuilder<T> AsRunToCompletion<T>(this IResourceBuilder<T> builder)
        where T : IResource =>
        builder.WithAnnotation(new RunsToCompletionAnnotation());

    public static bool IsRunToCompletion(this IResource resource) =>
        resource.Annotations.OfType<RunsToCompletionAnnotation>().Any();
}
