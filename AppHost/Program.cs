using Router.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

var cache = builder.AddRedis("cache");
var ledger = builder.AddPostgres("postgres").AddDatabase("ledger");

// Locally the API is open (no keys) and the ledger journal lives beside the private servers;
// a deployment keeps the default Access:Mode=Keys and mounts a volume for the journal.
builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpEndpoint()
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitFor(ledger)
    .WithEnvironment("Access__Mode", "Open")
    .WithEnvironment("Ledger__Directory", Path.Combine(DistributedApplication.StateDirectory, "gateway-ledger-journal"));

return await builder.Build().RunAsync();
