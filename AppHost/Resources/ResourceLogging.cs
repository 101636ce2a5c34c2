using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Router.AppHost.Resources;

internal static class ResourceLogging
{
    /// <summary>Writes lines to a resource's console log, which the dashboard shows beside the resource.</summary>
    public static Action<string> ResourceLog(this IServiceProvider services, IResource resource)
    {
        var logger = services.GetRequiredService<ResourceLoggerService>().GetLogger(resource);
        return line => logger.LogInformation("{Line}", line);
    }
}
