using Router.AppHost.Hosting;
using Router.Contracts;

var builder = DistributedApplication.CreateBuilder(args);

var cache = builder.AddRedis("cache");
var ledger = builder.AddPostgres("postgres").AddDatabase("ledger");

// The default fleet: one simulated worker per model of the Gateway's default portfolio, so the
// system answers out of the box on a machine without GPUs. Point a worker at a real model with
// Worker__Backend=vllm and Worker__Endpoint (see README).
string[] fleet = ["llama3.1-8b", "llama3.1-70b", "gpt-4o"];
var workers = fleet.Select(model => builder.AddProject<Projects.InferenceWorker>(ServiceNames.Worker(model))
        .WithGrpcEndpoint()
        .WithHttpEndpoint()
        .WithEnvironment("Worker__Model", model)
        .WithEnvironment("Worker__Backend", "simulated"))
    .ToList();

var scoring = builder.AddProject<Projects.Scoring>(ServiceNames.Scoring)
    .WithGrpcEndpoint()
    .WithHttpEndpoint()
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitFor(ledger);

// The "default" policy (model: "auto") until `router policy fit --name default` stores a fitted one.
var policy = builder.AddProject<Projects.Policy>(ServiceNames.Policy)
    .WithGrpcEndpoint()
    .WithHttpEndpoint()
    .WithReference(ledger).WaitFor(ledger);
for (var i = 0; i < fleet.Length; i++)
{
    policy.WithEnvironment($"Policy__Defaults__default__Chain__{i}", fleet[i]);
    if (i < fleet.Length - 1)
    {
        policy.WithEnvironment($"Policy__Defaults__default__Thresholds__{i}", "0.9");
    }
}

// Without a trained model the classifier answers "start at the cheapest" and says so; store one
// with `router classifier train --connection` and it is loaded from the ledger.
var classifier = builder.AddProject<Projects.Classifier>(ServiceNames.Classifier)
    .WithGrpcEndpoint()
    .WithHttpEndpoint()
    .WithReference(ledger).WaitFor(ledger);

// Locally the API is open (no keys) and the ledger journal lives beside the private servers;
// a deployment keeps the default Access:Mode=Keys and mounts a volume for the journal.
var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpEndpoint()
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitFor(ledger)
    .WithReference(scoring).WaitFor(scoring)
    .WithReference(policy).WaitFor(policy)
    .WithReference(classifier).WaitFor(classifier)
    .WithEnvironment("Access__Mode", "Open")
    .WithEnvironment("Ledger__Directory", Path.Combine(DistributedApplication.StateDirectory, "gateway-ledger-journal"));
foreach (var worker in workers)
{
    gateway.WithReference(worker).WaitFor(worker);
    scoring.WithReference(worker);
}

return await builder.Build().RunAsync();
