using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Router.Contracts;
using Router.Domain.Calibration;
using Router.Domain.Signals;
using Router.Ledger;
using Router.LocalServers;
using DomainSignalOptions = Router.Domain.Signals.SignalOptions;

namespace Router.Benchmarks;

/// <summary>
/// How fast every token-level signal is computed for a 512-token answer with k = 5 alternatives,
/// and the Scoring service's latency when the score is cached in Redis versus computed, side by side.
/// </summary>
public sealed class SignalsBenchmark : IBenchmark
{
    private const int Tokens = 512;
    private const int K = 5;

    public string Name => "signals";

    public string Description => "signals per second (512 tokens, k = 5) and Scoring p50/p99 on cache hit versus miss";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var random = new Random(1);
        var attempt = Attempt(random);
        var domain = new AttemptTokens(
            [.. attempt.Tokens.Select(t => t.Token)],
            [.. attempt.Tokens.Select(t => t.Logprob)],
            [.. attempt.Tokens.Select(t => (IReadOnlyList<(string, double)>)[.. t.TopLogprobs.Select(a => (a.Token, a.Logprob))])]);
        var options = new DomainSignalOptions();
        for (var i = 0; i < 200; i++)
        {
            AttemptSignals.Compute(domain, options);
        }

        var clock = Stopwatch.StartNew();
        var computed = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            AttemptSignals.Compute(domain, options);
            computed++;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"in-process: {computed / clock.Elapsed.TotalSeconds:N0} attempts/s ({Tokens} tokens, k = {K}, every token-level signal), {clock.Elapsed.TotalMilliseconds * 1000 / computed:F1} us each"));

        var state = Path.Combine(Path.GetTempPath(), "router-benchmarks");
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await using var postgres = await LocalPostgresServer.StartAsync(state, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");
        await using (var services = new ServiceCollection().AddLedger(ledger).BuildServiceProvider())
        {
            await services.MigrateLedgerAsync(cancellationToken);
            await services.GetRequiredService<ArtifactStore>().SaveNewVersionAsync(ArtifactKinds.Calibrator, "llama3.1-8b", new CalibratorArtifact(SignalNames.GeometricMeanProbability, new PlattCalibrator(1.1, -0.2)).ToJson(), "{}", cancellationToken);
        }

        await using var scoring = await ServiceProcess.StartAsync("Scoring", new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = redis.ConnectionString,
            ["ConnectionStrings__ledger"] = ledger,
        }, cancellationToken);
        using var channel = scoring.Channel();
        var client = new Scoring.ScoringClient(channel);
        while (!(await client.ScoreAttemptAsync(attempt, cancellationToken: cancellationToken)).Calibrated)
        {
            await Task.Delay(100, cancellationToken);
        }

        var misses = Enumerable.Range(0, 3000).Select(i => { var a = attempt.Clone(); a.Answer = "variant " + i.ToString(CultureInfo.InvariantCulture); return a; }).ToArray();
        await LatencyStats.MeasureAsync(4, 300, _ => client.ScoreAttemptAsync(attempt, cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
        Console.WriteLine($"{"concurrency",11} {"scoring",-10} {"calls",6} {"p50 ms",8} {"p99 ms",8}");
        foreach (var concurrency in new[] { 1, 16 })
        {
            var hit = await LatencyStats.MeasureAsync(concurrency, 1500, _ => client.ScoreAttemptAsync(attempt, cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
            var offset = concurrency == 1 ? 0 : 1500;
            var miss = await LatencyStats.MeasureAsync(concurrency, 1500, i => client.ScoreAttemptAsync(misses[offset + i], cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
            Print(concurrency, "hit", hit);
            Print(concurrency, "miss", miss);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {"miss/hit",-10} {"",6} {miss.P50Ms / hit.P50Ms,8:F2} {miss.P99Ms / hit.P99Ms,8:F2}"));
        }
    }

    private static void Print(int concurrency, string kind, LatencyStats stats) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {kind,-10} {stats.Count,6} {stats.P50Ms,8:F3} {stats.P99Ms,8:F3}"));

    private static ScoreAttemptRequest Attempt(Random random)
    {
        var request = new ScoreAttemptRequest { Model = "llama3.1-8b", Answer = "Answer: B", Messages = { new ChatMessage { Role = "user", Content = "A long question" } } };
        for (var i = 0; i < Tokens; i++)
        {
            var chosen = -Math.Abs(random.NextDouble() * random.NextDouble() * 2);
            var token = new TokenLogprob { Token = " t" + i.ToString(CultureInfo.InvariantCulture), Logprob = chosen };
            token.TopLogprobs.Add(new TokenAlternative { Token = token.Token, Logprob = chosen });
            for (var k = 1; k < K; k++)
            {
                token.TopLogprobs.Add(new TokenAlternative { Token = " a" + k.ToString(CultureInfo.InvariantCulture), Logprob = chosen - 1 - k - random.NextDouble() });
            }

            request.Tokens.Add(token);
        }

        return request;
    }
}
