using Microsoft.Extensions.Options;
using Router.Gateway.Portfolio;

namespace Router.Gateway.Apis;

public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Models");
        api.MapGet("/models", ListModels).WithName("ListModels");
        return app;
    }

    /// <summary>The portfolio in escalation order, in the OpenAI list shape with the router's pricing fields.</summary>
    internal static ModelList ListModels(IOptions<PortfolioOptions> portfolio) => new(
        "list",
        [.. portfolio.Value.Models
            .OrderBy(m => m.Tier)
            .Select(m => new ModelEntry(
                m.Name, "model", "router", m.Tier!.Value, m.InputUsdPerMillionTokens!.Value, m.OutputUsdPerMillionTokens!.Value, m.ParameterCount, m.ContextLength))]);

    internal sealed record ModelList(string Object, IReadOnlyList<ModelEntry> Data);

    internal sealed record ModelEntry(
        string Id,
        string Object,
        string OwnedBy,
        int Tier,
        decimal InputUsdPerMillionTokens,
        decimal OutputUsdPerMillionTokens,
        long? ParameterCount,
        int? ContextLength);
}
