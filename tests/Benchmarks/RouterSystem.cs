using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Contracts;
using Router.Ledger;
using Router.LocalServers;
using Router.Testing;

namespace Router.Benchmarks;

/// <summary>
/// The router as it is deployed, each part its own process: a private Redis and PostgreSQL (fsync on,
/// its default), one InferenceWorker per model of a two-model portfolio with the vllm backend pointed
/// at the mock model server, Scoring, Policy and the Gateway (journal fsynced before every answer, its
/// default), started from the Release build. Beside it a second Gateway over the same Scoring, Policy,
/// Redis and PostgreSQL runs both models' workers in its own process (the portfolio's InProcess
/// settings), so the two deployments are measured in one run. The policy <see cref="Policy"/> accepts
/// stage 1 at P(correct) >= <see cref="Threshold"/> and escalates below it; the last stage always answers.
/// </summary>
public sealed class RouterSystem(LocalRedisServer redis, LocalPostgresServer postgres, string ledger, IReadOnlyList<string> models, List<ServiceProcess> services) : IAsyncDisposable
{
    public const string Policy = "bench";

    public const double Threshold = 0.5;

    public LocalRedisServer Redis => redis;

    public LocalPostgresServer Postgres => postgres;

    /// <summary>The portfolio in escalation order: the chain of <see cref="Policy"/>.</summary>
    public IReadOnlyList<string> Models => models;

    /// <summary>The Gateway that calls a worker process per model.</summary>
    public ServiceProcess Gateway => services[^2];

    /// <summary>The Gateway that runs both models' workers in its own process.</summary>
    public ServiceProcess InProcessGateway => services[^1];

    public ServiceProcess Policies => services[^3];

    public ServiceProcess Scoring => services[^4];

    public IEnumerable<ServiceProcess> Workers => services.Take(models.Count);

    /// <summary>Both Gateways' journal fsyncs that stalled, from their logs.</summary>
    public JournalStalls JournalStalls { get; } = WatchJournals(services[^2], services[^1]);

    public static async Task<RouterSystem> StartAsync(string stateDirectory, Uri modelServer, CancellationToken cancellationToken)
    {
        var redis = await LocalRedisServer.StartAsync(_ => { }, cancellationToken);
        LocalPostgresServer? postgres = null;
        var services = new List<ServiceProcess>();
        try
        {
            postgres = await LocalPostgresServer.StartAsync(stateDirectory, _ => { }, durable: true, cancellationToken);
            await postgres.CreateDatabaseAsync("ledger", cancellationToken);
            var ledger = postgres.ConnectionString("ledger");
            await MigrateAsync(ledger, cancellationToken);

            // The first two models of the AppHost's portfolio: a cheap first stage and the stage it escalates to.
            var portfolio = new JsonArray([.. JsonNode.Parse(TestPortfolio.Json)!.AsArray().Take(2).Select(m => m!.DeepClone())]);
            var models = portfolio.Select(m => m!["name"]!.GetValue<string>()).ToList();
            foreach (var model in portfolio)
            {
                services.Add(await ServiceProcess.StartAsync("InferenceWorker", new Dictionary<string, string?>
                {
                    ["Worker__Model"] = model!["name"]!.GetValue<string>(),
                    ["Worker__Backend"] = "vllm",
                    ["Worker__Endpoint"] = modelServer.ToString(),
                    ["Worker__ContextLength"] = model["contextLength"]!.ToString(),
                    ["Worker__InputUsdPerMillionTokens"] = model["inputUsdPerMillionTokens"]!.ToString(),
                    ["Worker__OutputUsdPerMillionTokens"] = model["outputUsdPerMillionTokens"]!.ToString(),
                }, cancellationToken));
            }

            services.Add(await ServiceProcess.StartAsync("Scoring", new Dictionary<string, string?>
            {
                ["ConnectionStrings__cache"] = redis.ConnectionString,
                ["ConnectionStrings__ledger"] = ledger,
            }, cancellationToken));
            services.Add(await ServiceProcess.StartAsync("Policy", new Dictionary<string, string?>
            {
                ["ConnectionStrings__ledger"] = ledger,
                [$"Policy__Defaults__{Policy}__Chain__0"] = models[0],
                [$"Policy__Defaults__{Policy}__Chain__1"] = models[1],
                [$"Policy__Defaults__{Policy}__Thresholds__0"] = Threshold.ToString(CultureInfo.InvariantCulture),
            }, cancellationToken));
            var gateway = new Dictionary<string, string?>
            {
                ["ConnectionStrings__cache"] = redis.ConnectionString,
                ["ConnectionStrings__ledger"] = ledger,
                ["Access__Mode"] = "Open",
                ["Ledger__Directory"] = Path.Combine(stateDirectory, "ledger-journal"),
                ["Routing__DefaultPolicy"] = Policy,
                ["Portfolio__Json"] = portfolio.ToJsonString(),
                [Address(ServiceNames.Scoring)] = services[^2].Grpc.ToString(),
                [Address(ServiceNames.Policy)] = services[^1].Grpc.ToString(),
            };
            for (var i = 0; i < models.Count; i++)
            {
                gateway[Address(ServiceNames.Worker(models[i]))] = services[i].Grpc.ToString();
            }

            services.Add(await ServiceProcess.StartAsync("Gateway", gateway, cancellationToken));

            var inProcess = portfolio.DeepClone().AsArray();
            foreach (var model in inProcess)
            {
                model!["inProcess"] = new JsonObject { ["backend"] = "vllm", ["endpoint"] = modelServer.ToString() };
            }

            gateway["Portfolio__Json"] = inProcess.ToJsonString();
            gateway["Ledger__Directory"] = Path.Combine(stateDirectory, "ledger-journal-in-process");
            foreach (var model in models)
            {
                gateway.Remove(Address(ServiceNames.Worker(model)));
            }

            services.Add(await ServiceProcess.StartAsync("Gateway", gateway, cancellationToken));
            return new RouterSystem(redis, postgres, ledger, models, services);
        }
        catch
        {
            await StopAsync(services, postgres, redis);
            throw;
        }
    }

    /// <summary>How many of <paramref name="requestIds"/> the ledger holds, once the Gateway's journal has shipped (waits until the count stops growing).</summary>
    public async Task<long> LedgerRowsAsync(IReadOnlyCollection<string> requestIds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync(cancellationToken);
        var ids = requestIds.ToArray();
        var found = -1L;
        var unchangedSince = DateTime.UtcNow;
        while (true)
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM requests WHERE id = ANY(@ids)", connection);
            count.Parameters.AddWithValue("ids", ids);
            var now = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            if (now == ids.Length || (now == found && DateTime.UtcNow - unchangedSince > TimeSpan.FromSeconds(15)))
            {
                return now;
            }

            if (now != found)
            {
                (found, unchangedSince) = (now, DateTime.UtcNow);
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    private static JournalStalls WatchJournals(params ServiceProcess[] gateways)
    {
        var stalls = new JournalStalls();
        foreach (var gateway in gateways)
        {
            gateway.Process.OutputLine = stalls.Observe;
        }

        return stalls;
    }

    private static string Address(string service) => $"services__{service}__grpc__0";

    private static async Task MigrateAsync(string ledger, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLedger(ledger);
        await using var provider = services.BuildServiceProvider();
        await provider.MigrateLedgerAsync(cancellationToken);
    }

    /// <summary>The Gateway first, so it drains its journal into PostgreSQL while that still runs.</summary>
    private static async Task StopAsync(List<ServiceProcess> services, LocalPostgresServer? postgres, LocalRedisServer redis)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            await services[i].DisposeAsync();
        }

        if (postgres is not null)
        {
            await postgres.DisposeAsync();
        }

        await redis.DisposeAsync();
    }

    public ValueTask DisposeAsync() => new(StopAsync(services, postgres, redis));
}
