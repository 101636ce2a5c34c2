using Microsoft.Extensions.Configuration;
using Router.AppHost;
using Router.AppHost.Resources;
using Router.Contracts;
using Router.LocalServers;

var builder = DistributedApplication.CreateBuilder(args);
var portfolio = PortfolioDeclaration.Read(builder.Configuration);

// Redis and PostgreSQL: given connection strings (ConnectionStrings__cache / __ledger) win; in
// publish mode they are Aspire's container resources; on this machine they run from its own server
// binaries (installed from Debian's packages when missing), since no container runtime exists here.
IResourceBuilder<IResourceWithConnectionString> cache;
IResourceBuilder<IResourceWithConnectionString> ledger;
RunFolder? run = null;
if (builder.ExecutionContext.IsPublishMode)
{
    cache = builder.AddRedis("cache");
    ledger = builder.AddPostgres("postgres").AddDatabase("ledger");
}
else
{
    run = RunFolder.Create(builder);
    Action<string> log = line => Console.WriteLine($"[apphost] {line}");
    cache = builder.Configuration.GetConnectionString("cache") is { Length: > 0 }
        ? builder.AddConnectionString("cache")
        : builder.AddLocalRedis("cache", await ServerPackages.RequireAsync("Redis", "redis-server", () => ServerPackages.FindOnPath("redis-server"), "ConnectionStrings__cache", log, CancellationToken.None), run);
    ledger = builder.Configuration.GetConnectionString("ledger") is { Length: > 0 }
        ? builder.AddConnectionString("ledger")
        : builder.AddLocalPostgres("postgres", await PostgresInstallation.RequireBinDirectoryAsync("ConnectionStrings__ledger", log, CancellationToken.None), run).AddDatabase("ledger");
}

// The schema is migrated once, before any service reads the ledger.
var migrations = builder.AddProject<Projects.LedgerMigrator>("ledger-migrations")
    .WithReference(ledger).WaitFor(ledger)
    .AsRunToCompletion();

var workers = portfolio.Models.Where(model => !model.InGateway).Select(model =>
{
    var worker = builder.AddProject<Projects.InferenceWorker>(ServiceNames.Worker(model.Name))
        .WithServiceEndpoints(grpc: true)
        .WithEnvironment("Worker__Model", model.Name)
        .WithEnvironment("Worker__Backend", model.Backend)
        .WithEnvironment("Worker__InputUsdPerMillionTokens", Invariant(model.InputUsdPerMillionTokens))
        .WithEnvironment("Worker__OutputUsdPerMillionTokens", Invariant(model.OutputUsdPerMillionTokens));
    SetIfDeclared(worker, "Worker__Endpoint", model.Endpoint);
    SetIfDeclared(worker, "Worker__BackendModel", model.BackendModel);
    SetIfDeclared(worker, "Worker__TracePath", model.TracePath);
    SetIfDeclared(worker, "Worker__ContextLength", Invariant(model.ContextLength));
    SetIfDeclared(worker, "Worker__ParameterCount", Invariant(model.ParameterCount));
    if (model.ApiKeyParameter is { Length: > 0 } keyName)
    {
        worker.WithEnvironment("Worker__ApiKey", builder.AddParameter(keyName, secret: true));
    }

    return worker;
}).ToList();

var scoring = builder.AddProject<Projects.Scoring>(ServiceNames.Scoring)
    .WithServiceEndpoints(grpc: true)
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitForCompletion(migrations);

// The "default" policy (model: "auto") escalates over the whole portfolio, cheapest first, until
// `router policy fit --name default` stores a fitted version.
var policy = builder.AddProject<Projects.Policy>(ServiceNames.Policy)
    .WithServiceEndpoints(grpc: true)
    .WithReference(ledger).WaitForCompletion(migrations);
for (var i = 0; i < portfolio.Models.Count; i++)
{
    policy.WithEnvironment($"Policy__Defaults__default__Chain__{i}", portfolio.Models[i].Name);
    if (i < portfolio.Models.Count - 1)
    {
        policy.WithEnvironment($"Policy__Defaults__default__Thresholds__{i}", Invariant(portfolio.DefaultThreshold));
    }
}

// The pre-call classifier of the default portfolio is part of the Classifier service (trained on
// the cascade-traces prompts: see README); a model stored with `router classifier train --connection`
// is used instead when Classifier:ModelPath is empty.
var classifier = builder.AddProject<Projects.Classifier>(ServiceNames.Classifier)
    .WithServiceEndpoints(grpc: true)
    .WithReference(ledger).WaitForCompletion(migrations)
    .WithEnvironment("Classifier__ModelPath", builder.Configuration["AppHost:ClassifierModel"] ?? string.Empty);

// Locally the API is open (no keys); a deployment keeps the default Access:Mode=Keys and mounts a
// volume for the ledger journal, which lives in this run's folder here.
var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithServiceEndpoints(grpc: false, httpPort: builder.Configuration.GetValue("AppHost:GatewayPort", 5080))
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitForCompletion(migrations)
    .WithReference(scoring).WaitFor(scoring)
    .WithReference(policy).WaitFor(policy)
    .WithReference(classifier).WaitFor(classifier)
    .WithEnvironment("Portfolio__Json", portfolio.GatewayJson());
foreach (var model in portfolio.Models.Where(model => model.InGateway && model.ApiKeyParameter is { Length: > 0 }))
{
    gateway.WithEnvironment($"Portfolio__ApiKeys__{model.Name}", builder.AddParameter(model.ApiKeyParameter!, secret: true));
}

foreach (var worker in workers)
{
    gateway.WithReference(worker).WaitFor(worker);
    scoring.WithReference(worker);
}

if (run is not null)
{
    gateway.WithEnvironment("Access__Mode", "Open")
        .WithEnvironment("Ledger__Directory", Path.Combine(run.Path, "ledger-journal"));
    ReadyBanner.Add(builder, run, gateway);
}

builder.Build().Run();

static string? Invariant(IFormattable? value) => value?.ToString(null, System.Globalization.CultureInfo.InvariantCulture);

static void SetIfDeclared(IResourceBuilder<ProjectResource> project, string name, string? value)
{
    if (value is { Length: > 0 })
    {
        project.WithEnvironment(name, value);
    }
}
