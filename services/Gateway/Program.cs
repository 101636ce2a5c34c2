using Router.Gateway;
using Router.Gateway.Access;
using Router.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseMiddleware<AccessMiddleware>();
app.MapModelsApi();
app.MapChatCompletionsApi();
app.MapFeedbackApi();
app.MapAdminApi();
app.MapReportsApi();

app.Run();

public partial class Program;
