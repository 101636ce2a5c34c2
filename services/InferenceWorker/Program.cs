using Router.InferenceWorker;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddInferenceWorker();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<InferenceService>();
app.MapGrpcHealthChecksService();

app.Run();

public partial class Program;
