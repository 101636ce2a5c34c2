using Router.Scoring;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddScoring();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<ScoringService>();

app.Run();

public partial class Program;
