using Router.PolicyService;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddPolicyService();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<PolicyGrpcService>();

app.Run();

public partial class Program;
