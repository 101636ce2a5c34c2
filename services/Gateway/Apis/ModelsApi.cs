using Microsoft.Extensions.Options;
using Router.Gateway.Portfolio;
using Router.Gateway.Routing;

namespace Router.Gateway.Apis;

public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Models");
        api.MapGet("/models", ListModels).WithName("ListModels");
        api.MapGet("/models/{**id}", GetModel).WithName("GetModel");
        return app;
    }

    /// <summary>The portfolio in escalation order, in the OpenAI list shape with the router's pricing fields.</summary>
    internal static ModelList ListModels(IOptions<PortfolioOptions> portfolio) => new(
        "list",
        [.. portfolio.Value.Models.OrderBy(m => m.Tier).Select(Entry)]);

    /// <summary>One model of the portfolio, as OpenAI's GET /v1/models/{model} returns it.</summary>
    internal static IResult GetModel(string id, IOptions<PortfolioOptions> portfolio) =>
        portfolio.Value.Models.FirstOrDefault(m => m.Name == id) is { } model
            ? Results.Ok(Entry(model))
            : OpenAiError.NotFound($"The model {OpenAiError.Shown(id)} is not in this router's portfolio (see GET /v1/models).", "model", "model_not_found");

    private static ModelEntry Entry(ModelDeploymentOptions m) =>
        new(m.Name, "model", "router", m.Tier!.Value, m.InputUsdPerMillionTokens!.Value, m.OutputUsdPerMillionTokens!.Value, m.ParameterCount, m.ContextLength);

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
