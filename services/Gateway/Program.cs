using Router.Contracts;
using Router.Gateway;
using Router.Gateway.Access;
using Router.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

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

app.Run();

public partial class Program;
