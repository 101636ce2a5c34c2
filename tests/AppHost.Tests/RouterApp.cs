using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Router.AppHost.Tests.Otlp;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>
/// The real AppHost started once for a test class through Aspire.Hosting.Testing: private Redis and
/// PostgreSQL, the migrations, three simulated workers, Scoring, Policy, Classifier and the Gateway,
/// with the settings the fault tests need (response cache on, 2 s stage timeout, circuits that open
/// after two failures and stay open 5 s).
/// </summary>
public sealed class RouterApp : IAsyncLifetime
{
    public static readonly TimeSpan StageTimeout = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan CircuitBreak = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    private DistributedApplication? _app;
    private OtlpTraceReceiver? _traces;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The AppHost is not started.");

    public string Ledger { get; private set; } = string.Empty;

    /// <summary>Every span the services exported during the run.</summary>
    public OtlpTraceReceiver Traces => _traces ?? throw new InvalidOperationException("The AppHost is not started.");

    public HttpClient Gateway()
    {
        var http = App.CreateHttpClient("gateway", "http");
        http.Timeout = TimeSpan.FromSeconds(60);
        return http;
    }

    public async Task InitializeAsync()
    {
        using var starting = new CancellationTokenSource(StartTimeout);
        // The services export telemetry where the dashboard would take it: here, to the test's collector.
        _traces = await OtlpTraceReceiver.StartAsync();
        // The last model's worker runs in the Gateway, as a deployment may declare it.
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            [$"ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL={_traces.Endpoint}", "Portfolio:Models:2:InGateway=true"], starting.Token);

        // Every resource's log lines are in the collector-less run's console otherwise; keep what matters.
        builder.Services.AddLogging(logging => logging
            .AddFilter("AppHost.Resources", LogLevel.Warning)
            .AddFilter("Aspire.Hosting", LogLevel.Warning)
            .AddFilter("System.Net.Http", LogLevel.Warning));
        builder.CreateResourceBuilder<ProjectResource>("gateway")
            .WithEnvironment("ResponseCache__Enabled", "true")
            .WithEnvironment("Routing__StageTimeout", StageTimeout.ToString())
            .WithEnvironment("Routing__CircuitFailureThreshold", "2")
            .WithEnvironment("Routing__CircuitBreakDuration", CircuitBreak.ToString())

            // No periodic identity checks: a frozen worker must receive nothing but the test's requests.
            .WithEnvironment("Routing__WorkerCheckInterval", TimeSpan.FromHours(1).ToString());
        _app = await builder.BuildAsync(starting.Token);
        await _app.StartAsync(starting.Token);
        await Task.WhenAll(ServiceResources().Select(name => _app.ResourceNotifications.WaitForResourceHealthyAsync(name, starting.Token)));
        Ledger = await _app.GetConnectionStringAsync("ledger", starting.Token)
            ?? throw new InvalidOperationException("The ledger has no connection string.");
    }

    /// <summary>Every resource that stays up: everything but the migrations, which run once and exit.</summary>
    public IEnumerable<string> ServiceResources() =>
        App.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .Where(r => r is ProjectResource or IResourceWithConnectionString && r.Name != "ledger-migrations")
            .Select(r => r.Name);

    /// <summary>The operating-system process of a service of this run.</summary>
    public int ServiceProcess(string service) => RunProcesses.Service(Environment.ProcessId, service);

    public async Task<long> CountAsync(string query)
    {
        await using var connection = new NpgsqlConnection(Ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The query's count once it reaches <paramref name="expected"/> (the ledger is written shortly after each answer).</summary>
    public async Task<long> CountWhenAsync(string query, long expected)
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long count;
        while ((count = await CountAsync(query)) < expected && !patience.IsCancellationRequested)
        {
            await Task.Delay(100, CancellationToken.None);
        }

        return count;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_traces is not null)
        {
            await _traces.DisposeAsync();
        }
    }
}
