extern alias policy;
extern alias scoring;

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Router.Contracts;
using Router.Domain.Costs;
using Router.Domain.Policies;
using Router.Domain.Signals;
using Router.Gateway.Control;
using Router.InferenceWorker.Simulation;
using Router.Ledger;
using Router.Testing;
using Xunit;

namespace Router.Gateway.Tests;

/// <summary>
/// From the simulated fleet to a routed request, through the real `router` processes and hosts:
/// multi-signal traces recorded, calibrators stored per (model, signal), each stage's recipe and the
/// thresholds fitted and stored, then questions routed by a Gateway over three simulated workers,
/// whose first stage makes exactly its recipe's extra calls and records them in trace and ledger.
/// </summary>
public sealed class SimulatedRecipeTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<PostgresFixture>, IClassFixture<RedisFixture>
{
    private const string Benchmark = SimulatedFleet.MultipleChoice;

    [Fact]
    public async Task The_fitted_policys_first_stage_recipe_is_gathered_priced_and_recorded_for_every_routed_question()
    {
        scoring::Router.Scoring.CalibratorRegistry.RefreshInterval = TimeSpan.FromMilliseconds(200);
        var ledger = await postgres.CreateDatabaseAsync("ledger");
        var directory = Directory.CreateDirectory(Path.Combine(TestState.Directory, $"recipes-{Guid.NewGuid():N}")).FullName;
        var traces = Path.Combine(directory, "simulated.jsonl");
        var profiles = SimulatedModelProfile.Defaults;
        var chain = string.Join(">", profiles.Select(p => p.Model));

        var simulated = await RouterCli.RunAsync("traces", "simulate-signals", "--out", traces, "--queries", "3000", "--seed", "3");
        var calibrated = await RouterCli.RunAsync("calibrate", traces, "--connection", ledger);
        var fitted = await RouterCli.RunAsync("policy", "fit", traces, "--benchmark", Benchmark, "--chain", chain, "--eps", "0.02", "--name", "simulated", "--connection", ledger);
        Assert.True(simulated.ExitCode == 0, simulated.Output);
        Assert.True(calibrated.ExitCode == 0, calibrated.Output);
        Assert.True(fitted.ExitCode == 0, fitted.Output);

        await using var provider = new ServiceCollection().AddLedger(ledger).BuildServiceProvider();
        var policy = PolicyArtifact.FromJson((await provider.GetRequiredService<ArtifactStore>().GetLatestAsync(ArtifactKinds.Policy, "simulated"))!.Payload);
        var first = profiles.First(p => p.Model == policy.Chain[0]);
        var recipe = policy.RecipeAt(0);
        Assert.True(recipe.ExtraCalls.Count > 0, $"the fit trusted {recipe.Key} at {first.Model}, which makes no extra call\n{fitted.Output}");

        var hosts = new List<IAsyncDisposable>();
        try
        {
            var services = new Dictionary<string, string?> { [ServiceNames.GrpcAddressKey(ServiceNames.Classifier)] = "http://127.0.0.1:9" };
            foreach (var profile in profiles)
            {
                var host = new SimulatedWorker(profile.Model);
                hosts.Add(host);
                services[host.Route.Key] = host.Route.Value;
            }

            services[ServiceNames.GrpcAddressKey(ServiceNames.Scoring)] = Host(hosts, new GrpcServiceFactory<scoring::Program>(new Dictionary<string, string?> { ["ConnectionStrings:cache"] = redis.Server.ConnectionString, ["ConnectionStrings:ledger"] = ledger }));
            services[ServiceNames.GrpcAddressKey(ServiceNames.Policy)] = Host(hosts, new GrpcServiceFactory<policy::Program>(new Dictionary<string, string?>
            {
                ["ConnectionStrings:ledger"] = ledger,
                ["Policy:Defaults:default:Chain:0"] = profiles[0].Model,
                ["Policy:Defaults:default:Chain:1"] = profiles[^1].Model,
                ["Policy:Defaults:default:Thresholds:0"] = "0.5",
            }));
            services["Portfolio:Json"] = JsonSerializer.Serialize(profiles.Select((p, tier) => new { name = p.Model, tier, inputUsdPerMillionTokens = p.InputUsdPerMillionTokens, outputUsdPerMillionTokens = p.OutputUsdPerMillionTokens, contextLength = p.ContextLength }));
            services["Routing:ControlRefreshInterval"] = "00:00:00.200";
            await using var gateway = new GatewayFactory(redis.Server.ConnectionString, ledger, services);
            var catalog = gateway.Services.GetRequiredService<CalibratorCatalog>();
            await Eventually.UntilAsync(async () =>
            {
                await catalog.RefreshAsync(CancellationToken.None);
                return recipe.IsFused || catalog.Find(first.Model, Benchmark, recipe.CalibratorSignal) is not null;
            });

            using var client = gateway.CreateClient();
            var price = new TokenPrice((decimal)first.InputUsdPerMillionTokens, (decimal)first.OutputUsdPerMillionTokens);
            foreach (var question in QuestionSet.Default.Questions.Where(q => q.IsMultipleChoice).Take(4))
            {
                var trace = await RouteAsync(client, question.Prompt);
                var attempt = trace.GetProperty("attempts")[0];
                Assert.Equal((first.Model, recipe.Key), (attempt.GetProperty("model").GetString(), attempt.GetProperty("recipe").GetString()));
                Assert.True(attempt.GetProperty("calibrated").GetBoolean(), attempt.ToString());
                Assert.Equal(recipe.IsFused ? null : $"{first.Model}/{Benchmark}#{recipe.CalibratorSignal}@1", attempt.GetProperty("calibrator_version").GetString());

                var calls = attempt.GetProperty("extra_calls").EnumerateArray().ToList();
                Assert.Equal(recipe.ExtraCalls, calls.Select(c => c.GetProperty("kind").GetString()));
                Assert.All(calls, c => Assert.Equal(c.GetProperty("kind").GetString() == ExtraCallKinds.Sample ? recipe.Samples : 1, c.GetProperty("calls").GetInt32()));
                Assert.All(calls, c => Assert.Equal(price.Cost(c.GetProperty("prompt_tokens").GetInt32(), c.GetProperty("completion_tokens").GetInt32()), c.GetProperty("cost_usd").GetDecimal()));
                Assert.All(calls, c => Assert.True(c.GetProperty("prompt_tokens").GetInt32() > 0 && c.GetProperty("completion_tokens").GetInt32() > 0, c.ToString()));
                var extraCost = calls.Sum(c => c.GetProperty("cost_usd").GetDecimal());
                var answerCost = price.Cost(attempt.GetProperty("prompt_tokens").GetInt32(), attempt.GetProperty("completion_tokens").GetInt32());
                Assert.Equal(answerCost + extraCost, attempt.GetProperty("cost_usd").GetDecimal());

                var (extraPrompt, extraCompletion, ledgerExtraCost, ledgerCost) = await LedgerRowAsync(ledger, trace.GetProperty("request_id").GetString()!);
                Assert.Equal(
                    (calls.Sum(c => c.GetProperty("prompt_tokens").GetInt32()), calls.Sum(c => c.GetProperty("completion_tokens").GetInt32()), extraCost, answerCost + extraCost),
                    (extraPrompt, extraCompletion, ledgerExtraCost, ledgerCost));
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }

            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Host<T>(List<IAsyncDisposable> hosts, GrpcServiceFactory<T> factory)
        where T : class
    {
        hosts.Add(factory);
        return factory.Address.ToString();
    }

    private static async Task<JsonElement> RouteAsync(HttpClient client, string question)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/route")
        {
            Content = JsonContent.Create(new
            {
                model = "cascade/simulated",
                messages = new[] { new { role = "user", content = question } },
                router = new { task_family = Benchmark, options = new[] { "A", "B", "C", "D" } },
            }),
        };
        request.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoStore = true };
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body;
    }

    private static async Task<(int ExtraPrompt, int ExtraCompletion, decimal ExtraCost, decimal Cost)> LedgerRowAsync(string ledger, string requestId)
    {
        await using var connection = new NpgsqlConnection(ledger);
        await connection.OpenAsync();
        (int, int, decimal, decimal)? row = null;
        await Eventually.UntilAsync(async () =>
        {
            await using var command = new NpgsqlCommand("SELECT extra_prompt_tokens, extra_completion_tokens, extra_cost_usd, cost_usd FROM attempts WHERE request_id = @id AND attempt = 0", connection);
            command.Parameters.AddWithValue("id", requestId);
            await using var reader = await command.ExecuteReaderAsync();
            row = await reader.ReadAsync() ? (reader.GetInt32(0), reader.GetInt32(1), reader.GetDecimal(2), reader.GetDecimal(3)) : null;
            return row is not null;
        });
        return row!.Value;
    }
}
