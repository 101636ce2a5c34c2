using Scalar.AspNetCore;
using Router.Contracts;
using Router.Gateway;
using Router.Gateway.Access;
using Router.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();
builder.Services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
{
    document.Info.Title = "Confidence-driven LLM router";
    document.Info.Description = "OpenAI-compatible chat completions routed to the cheapest confident model, with routing traces, feedback, cost reports and team keys.";
    return Task.CompletedTask;
}));

// A body that fits is a prompt every gRPC hop accepts (see MessageLimits); a larger one is a 413 here.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MessageLimits.MaxRequestBodyBytes);

var app = builder.Build();

app.UseOpenAiErrors();
app.MapDefaultEndpoints();
app.UseMiddleware<AccessMiddleware>();
app.MapModelsApi();
app.MapChatCompletionsApi();
app.MapFeedbackApi();
app.MapAdminApi();
app.MapReportsApi();

// The API's description (/openapi/v1.json) and a page to read and try it (/scalar/v1).
app.MapOpenApi();
app.MapScalarApiReference();

app.Run();

public partial class Program;
