extern alias classifier;
extern alias policy;
extern alias scoring;
extern alias worker;

using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Contracts;
using Router.Ledger;
using Router.Testing;
using Router.Testing.OpenAiStub;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// The routing test tier: every service of the request path as a real host on loopback in this
/// process (two InferenceWorkers on the vllm backend against OpenAI-speaking stubs, so each test
/// decides what the models answer and how confident they are, plus Scoring, Policy and the
/// Classifier), real Redis and PostgreSQL; each test starts a Gateway of its own over them.
/// </summary>
public sealed class RoutingHosts : IAsyncLifetime
{
    public const string Small = "llama3.1-8b";
    public const string Large = "gpt-4o";

    /// <summary>The default policy: accept the small model's answer at a raw confidence of 0.5 (uncalibrated exp(mean log-prob)).</summary>
    public const double Threshold = 0.5;

    public static readonly IReadOnlyList<StubToken> Confident =
    [
        new("Answer", 0, [("Answer", 0), ("The", -9.5)]),
        new(":", -0.0001, [(":", -0.0001), (" is", -9.2)]),
        new(" B", -0.05, [(" B", -0.05), (" C", -3.2)]),
    ];

    public static readonly IReadOnlyList<StubToken> Unsure =
    [
        new("Answer", -0.2, [("Answer", -0.2), ("The", -1.9)]),
        new(":", -0.9, [(":", -0.9), (" is", -0.6)]),
        new(" C", -2.3, [(" C", -2.3), (" B", -0.4)]),
    ];

    /// <summary>
    /// A long draft whose confidence falls mid-answer: six sure tokens (C_i = 4.755 over two
    /// alternatives), then unsure ones (C_i = 0.75). A group window of 4 first falls below 2 at token 9.
    /// </summary>
    public static readonly IReadOnlyList<StubToken> Falling =
    [
        .. Enumerable.Range(0, 6).Select(i => new StubToken($" step{i}", -0.01, [($" step{i}", -0.01), (" so", -9.5)])),
        .. Enumerable.Range(0, 14).Select(i => new StubToken($" maybe{i}", -1.0, [(" perhaps", -0.5), ($" maybe{i}", -1.0)])),
    ];

    private readonly PostgresFixture _postgres = new();
    private readonly RedisFixture _redis = new();
    private readonly List<IAsyncDisposable> _hosts = [];

    public OpenAiStubServer SmallModel { get; private set; } = null!;

    public OpenAiStubServer LargeModel { get; private set; } = null!;

    public string Ledger { get; private set; } = string.Empty;

    public string Cache => _redis.Server.ConnectionString;

    /// <summary>A client of the Policy host, to see what it serves.</summary>
    public Router.Contracts.Policy.PolicyClient Policy { get; private set; } = null!;

    /// <summary>Where each service is, as the Gateway is told (services:&lt;name&gt;:grpc:0).</summary>
    public Dictionary<string, string?> Services { get; } = [];

    public async Task InitializeAsync()
    {
        // Calibrators a test stores reach Scoring, then the Gateway, within a fraction of a second.
        scoring::Router.Scoring.CalibratorRegistry.RefreshInterval = TimeSpan.FromMilliseconds(200);
        await Task.WhenAll(_postgres.InitializeAsync(), _redis.InitializeAsync());
        Ledger = await _postgres.CreateDatabaseAsync("ledger");
        await using (var provider = new ServiceCollection().AddLedger(Ledger).BuildServiceProvider())
        {
            await provider.MigrateLedgerAsync();
        }

        SmallModel = await OpenAiStubServer.StartAsync();
        LargeModel = await OpenAiStubServer.StartAsync();
        SmallModel.TokensFor = body => body.ToJsonString() switch
        {
            var prompt when prompt.Contains("(unsure)", StringComparison.Ordinal) => Unsure,
            var prompt when prompt.Contains("(falling)", StringComparison.Ordinal) => Falling,
            _ => Confident,
        };
        LargeModel.Tokens = Confident;

        Host(ServiceNames.Worker(Small), new GrpcServiceFactory<worker::Program>(Worker(Small, SmallModel)));
        Host(ServiceNames.Worker(Large), new GrpcServiceFactory<worker::Program>(Worker(Large, LargeModel)));
        Host(ServiceNames.Scoring, new GrpcServiceFactory<scoring::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = Cache,
            ["ConnectionStrings:ledger"] = Ledger,
        }));
        var policy = new GrpcServiceFactory<policy::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:ledger"] = Ledger,
            ["Policy:RefreshInterval"] = "00:00:00.200",
            ["Policy:Defaults:default:Chain:0"] = Small,
            ["Policy:Defaults:default:Chain:1"] = Large,
            ["Policy:Defaults:default:Thresholds:0"] = Threshold.ToString(CultureInfo.InvariantCulture),
        });
        Host(ServiceNames.Policy, policy);
        Policy = new Router.Contracts.Policy.PolicyClient(policy.Channel);
        Host(ServiceNames.Classifier, new GrpcServiceFactory<classifier::Program>(new Dictionary<string, string?>
        {
            ["Classifier:ModelPath"] = "Models/default-portfolio.onnx",
        }));
    }

    /// <summary>The Gateway settings of this system; <paramref name="overrides"/> win (e.g. a dead address for one service).</summary>
    public Dictionary<string, string?> GatewaySettings(IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(Services)
        {
            ["Portfolio:Json"] = $$"""
                [{"name": "{{Small}}", "tier": 0, "inputUsdPerMillionTokens": 0.18, "outputUsdPerMillionTokens": 0.18, "contextLength": 8192},
                 {"name": "{{Large}}", "tier": 1, "inputUsdPerMillionTokens": 2.5, "outputUsdPerMillionTokens": 10, "contextLength": 8192}]
                """,
            ["Routing:ControlRefreshInterval"] = "00:00:00.200",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>
    /// Settings that run both models' workers in the Gateway's process against the same stubs, with
    /// the worker processes' addresses dead, so that no answer can come from them.
    /// </summary>
    public Dictionary<string, string?> InProcessWorkers() => new()
    {
        ["Portfolio:Json"] = $$"""
            [{"name": "{{Small}}", "tier": 0, "inputUsdPerMillionTokens": 0.18, "outputUsdPerMillionTokens": 0.18, "contextLength": 8192,
              "inProcess": {"backend": "vllm", "endpoint": "{{SmallModel.Address}}", "maxRetries": 0} },
             {"name": "{{Large}}", "tier": 1, "inputUsdPerMillionTokens": 2.5, "outputUsdPerMillionTokens": 10, "contextLength": 8192,
              "inProcess": {"backend": "vllm", "endpoint": "{{LargeModel.Address}}", "maxRetries": 0} }]
            """,
        [ServiceNames.GrpcAddressKey(ServiceNames.Worker(Small))] = "http://127.0.0.1:9",
        [ServiceNames.GrpcAddressKey(ServiceNames.Worker(Large))] = "http://127.0.0.1:9",
    };

    public GatewayFactory Gateway(IDictionary<string, string?>? overrides = null, Action<IServiceCollection>? services = null) =>
        new(Cache, Ledger, GatewaySettings(overrides), services: services);

    public async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Ledger);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await SmallModel.DisposeAsync();
        await LargeModel.DisposeAsync();
        await Task.WhenAll(_postgres.DisposeAsync(), _redis.DisposeAsync());
    }

    private static Dictionary<string, string?> Worker(string model, OpenAiStubServer backend) => new()
    {
        ["Worker:Model"] = model,
        ["Worker:Backend"] = "vllm",
        ["Worker:Endpoint"] = backend.Address.ToString(),
        ["Worker:ContextLength"] = "8192",
        ["Worker:MaxRetries"] = "0",
    };

    private void Host<T>(string service, GrpcServiceFactory<T> factory)
        where T : class
    {
        _hosts.Add(factory);
        Services[ServiceNames.GrpcAddressKey(service)] = factory.Address.ToString();
    }
}
