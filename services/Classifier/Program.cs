using Router.ClassifierService;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddClassifierService();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<ClassifierGrpcService>();

app.Run();

public partial class Program;
