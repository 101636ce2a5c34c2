using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Router.Gateway.Portfolio;
using Router.Gateway.Routing;

namespace Router.Gateway;

internal static class Extensions
{
    public const string CacheConnectionName = "cache";
    public const string LedgerConnectionName = "ledger";

    public static void AddGatewayServices(this IHostApplicationBuilder builder)
    {
        // The public API is OpenAI-compatible, and OpenAI's JSON is snake_case.
        // Signals of degenerate answers can be -inf or NaN; the trace reports them rather than failing.
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        });

        builder.Services.AddOptions<RoutingOptions>()
            .Bind(builder.Configuration.GetSection(RoutingOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RoutingOptions>, RoutingOptionsValidator>();
        builder.Services.AddSingleton<ServiceChannels>();
        builder.Services.AddSingleton<CascadeRouter>();

        builder.Services.AddOptions<PortfolioOptions>()
            .Bind(builder.Configuration.GetSection(PortfolioOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PortfolioOptions>, PortfolioOptionsValidator>();

        var cache = RequiredConnectionString(builder.Configuration, CacheConnectionName);
        var ledger = RequiredConnectionString(builder.Configuration, LedgerConnectionName);

        // Without the cache the router still answers (uncached), so it only degrades readiness;
        // without the ledger no request can be recorded, so the Gateway is not ready.
        builder.Services.AddHealthChecks()
            .AddRedis(cache, name: CacheConnectionName, failureStatus: HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(3))
            .AddNpgSql(ledger, name: LedgerConnectionName, failureStatus: HealthStatus.Unhealthy, timeout: TimeSpan.FromSeconds(3));
    }

    private static string RequiredConnectionString(IConfiguration configuration, string name) =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"ConnectionStrings:{name} is not set. Run the system with 'dotnet run --project AppHost', or set ConnectionStrings__{name}.");
}
