using Router.Ledger;
using Router.LedgerMigrator;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddLedgerDbContext();
builder.Services.AddHostedService<LedgerMigration>();

await builder.Build().RunAsync();
