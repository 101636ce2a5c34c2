using Router.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

var cache = builder.AddRedis("cache");
var ledger = builder.AddPostgres("postgres").AddDatabase("ledger");

builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpEndpoint()
    .WithReference(cache).WaitFor(cache)
    .WithReference(ledger).WaitFor(ledger);

return await builder.Build().RunAsync();
