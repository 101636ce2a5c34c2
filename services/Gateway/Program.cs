using Router.Gateway;
using Router.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapModelsApi();
app.MapChatCompletionsApi();

app.Run();

public partial class Program;
