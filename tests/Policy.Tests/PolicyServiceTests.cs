using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Router.Contracts;
using Router.Domain.Policies;
using Router.Domain.Traces;
using Router.Ledger;
using Router.Testing;
using Xunit;

namespace Router.PolicyService.Tests;

/// <summary>The Policy service on real Kestrel over real gRPC, reading policies from a real PostgreSQL.</summary>
public sealed class PolicyServiceTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private string _ledger = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        _ledger = await postgres.CreateDatabaseAsync("ledger");
        _services = new ServiceCollection().AddLedger(_ledger).BuildServiceProvider();
        await _services.MigrateLedgerAsync();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task A_configured_default_serves_until_a_fitted_version_is_stored_and_each_new_version_takes_over()
    {
        await using var service = Service();
        var client = new Router.Contracts.Policy.PolicyClient(service.Channel);

        var configured = await client.DescribeAsync(new DescribePolicyRequest { Policy = "default" });
        Assert.Equal(0, configured.Version);
        Assert.Equal(["small", "large"], configured.Chain);

        using var reader = SharedData.Open("cascade-traces/traces.csv");
        var data = ChainData.FromTraces(CascadeTrace.ReadCsv(reader).ToList(), "mmlu", ["gpt-4o-mini", "gpt-4o"]);
        var fit = ThresholdFitter.FitRiskBounded(data, [.. Enumerable.Range(0, data.Queries)], 0.01, 0.1);
        await SaveAsync("default", new PolicyArtifact(fit.Chain, fit.Thresholds, "raw", new PolicyTarget(0.01, 0.1), fit.Method, fit.RiskBound, null, null));

        var fitted = await WaitForVersionAsync(client, "default", 1);
        Assert.Equal(["gpt-4o-mini", "gpt-4o"], fitted.Chain);
        Assert.Contains("0.01", fitted.TargetJson, StringComparison.Ordinal);

        var accept = await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 0, PCorrect = ChainData.MaxConfidence, Chain = { fitted.Chain } });
        var escalate = await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.2 });
        var last = await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 1, PCorrect = 0.01 });
        Assert.Equal((Decision.Accept, "confidence_above_threshold", 1), (accept.Decision, accept.Reason, accept.PolicyVersion));
        Assert.Equal((Decision.Escalate, "confidence_below_threshold"), (escalate.Decision, escalate.Reason));
        Assert.Equal((Decision.Accept, "last_stage"), (last.Decision, last.Reason));

        await SaveAsync("default", new PolicyArtifact(["gpt-4o-mini", "gpt-4o"], [0.1], "raw", null, "manual", null, null, null));
        await WaitForVersionAsync(client, "default", 2);
        Assert.Equal(Decision.Accept, (await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.2 })).Decision);
    }

    [Fact]
    public async Task Request_limits_stop_the_cascade_with_the_reason()
    {
        await using var service = Service();
        var client = new Router.Contracts.Policy.PolicyClient(service.Channel);

        var budget = await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.1, SpentUsd = 0.002, NextStageCostUsd = 0.01, Limits = new Router.Contracts.RequestLimits { MaxCostUsd = 0.005 } });
        var strict = await client.DecideAsync(new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.85, Limits = new Router.Contracts.RequestLimits { MinConfidence = 0.9 } });

        Assert.Equal((Decision.Stop, "budget_exhausted"), (budget.Decision, budget.Reason));
        Assert.Equal((Decision.Escalate, "below_min_confidence", 0.9), (strict.Decision, strict.Reason, strict.Threshold));
    }

    [Fact]
    public async Task Bad_requests_get_a_status_naming_the_field()
    {
        await using var service = Service();
        var client = new Router.Contracts.Policy.PolicyClient(service.Channel);
        var cases = new (DecideRequest Request, StatusCode Status, string Field)[]
        {
            (new DecideRequest { Policy = "nope", Stage = 0, PCorrect = 0.5 }, StatusCode.NotFound, "nope"),
            (new DecideRequest { Policy = "default", Stage = 5, PCorrect = 0.5 }, StatusCode.InvalidArgument, "stage"),
            (new DecideRequest { Policy = "default", Stage = 0, PCorrect = double.NaN }, StatusCode.InvalidArgument, "p_correct"),
            (new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.5, Chain = { "x", "y" } }, StatusCode.InvalidArgument, "chain"),
            (new DecideRequest { Policy = "default", Stage = 0, PCorrect = 0.5, Limits = new Router.Contracts.RequestLimits { MaxCostUsd = -1 } }, StatusCode.InvalidArgument, "limits"),
        };

        foreach (var (request, status, field) in cases)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.DecideAsync(request).ResponseAsync);
            Assert.Equal(status, error.StatusCode);
            Assert.Contains(field, error.Status.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_bad_default_policy_stops_start_up_naming_the_key()
    {
        using var service = new GrpcServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:ledger"] = _ledger,
            ["Policy:Defaults:broken:Chain:0"] = "small",
            ["Policy:Defaults:broken:Chain:1"] = "large",
            ["Policy:Defaults:broken:Thresholds:0"] = "1.5",
        });

        Assert.Contains("Policy:Defaults:broken:Thresholds:0", service.StartUpFailure(), StringComparison.Ordinal);
    }

    private GrpcServiceFactory<Program> Service() => new(new Dictionary<string, string?>
    {
        ["ConnectionStrings:ledger"] = _ledger,
        ["Policy:RefreshInterval"] = "00:00:00.200",
        ["Policy:Defaults:default:Chain:0"] = "small",
        ["Policy:Defaults:default:Chain:1"] = "large",
        ["Policy:Defaults:default:Thresholds:0"] = "0.8",
    });

    private async Task SaveAsync(string name, PolicyArtifact artifact) =>
        await _services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Policy, name, artifact.ToJson(), "{}");

    private static async Task<PolicyDescription> WaitForVersionAsync(Router.Contracts.Policy.PolicyClient client, string policy, int version)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var description = await client.DescribeAsync(new DescribePolicyRequest { Policy = policy });
            if (description.Version == version)
            {
                return description;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"version {version} of {policy} was never loaded");
            await Task.Delay(100);
        }
    }
}
