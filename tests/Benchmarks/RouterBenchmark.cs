using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Router.Contracts;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>
/// The whole routed path (Gateway -> worker -> Scoring -> Policy -> ledger journal) with
/// zero-latency simulated workers, against a direct gRPC call to the same worker: the router's
/// overhead at concurrency 1, 32 and 128, the sustained rate, and each service's peak memory.
/// </summary>
public sealed class RouterBenchmark : IBenchmark
{
    public string Name => "router";

    public string Description => "router overhead versus a direct worker call (c = 1, 32, 128), sustained requests/s, peak memory per service";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var state = Path.Combine(Path.GetTempPath(), "router-benchmarks");
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await using var postgres = await LocalPostgresServer.StartAsync(state, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");

        var worker = await ServiceProcess.StartAsync(new Projects.InferenceWorker(), new Dictionary<string, string?>
        {
            ["Worker__Model"] = "llama3.1-8b",
            ["Worker__Backend"] = "simulated",
            ["Worker__SimulateLatency"] = "false",
        }, cancellationToken);
        var scoring = await ServiceProcess.StartAsync(new Projects.Scoring(), new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = redis.ConnectionString,
            ["ConnectionStrings__ledger"] = ledger,
        }, cancellationToken);
        var policy = await ServiceProcess.StartAsync(new Projects.Policy(), new Dictionary<string, string?>
        {
            ["ConnectionStrings__ledger"] = ledger,
            ["Policy__Defaults__single__Chain__0"] = "llama3.1-8b",
        }, cancellationToken);
        var gateway = await ServiceProcess.StartAsync(new Projects.Gateway(), new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = redis.ConnectionString,
            ["ConnectionStrings__ledger"] = ledger,
            ["Access__Mode"] = "Open",
            ["Ledger__Directory"] = Path.Combine(state, "journal-" + Guid.NewGuid().ToString("N")),
            ["Routing__DefaultPolicy"] = "single",
            ["services__scoring__grpc__0"] = scoring.Grpc.ToString(),
            ["services__policy__grpc__0"] = policy.Grpc.ToString(),
            ["services__worker-llama3-1-8b__grpc__0"] = worker.Grpc.ToString(),
        }, cancellationToken);
        ServiceProcess[] all = [worker, scoring, policy, gateway];
        try
        {
            using var channel = worker.Channel();
            var direct = new Inference.InferenceClient(channel);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = gateway.Http };
            const string Question = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn";
            var grpcRequest = new GenerateRequest { Messages = { new ChatMessage { Role = "user", Content = Question } }, TopLogprobs = 5, MaxTokens = 512 };
            var body = JsonSerializer.Serialize(new { model = "auto", messages = new[] { new { role = "user", content = Question } } });

            Func<int, Task> viaWorker = async _ => await direct.GenerateAsync(grpcRequest, cancellationToken: cancellationToken);
            Func<int, Task> viaRouter = async _ =>
            {
                using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), cancellationToken);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync(cancellationToken);
            };

            await LatencyStats.MeasureAsync(8, 500, viaWorker, cancellationToken);
            await LatencyStats.MeasureAsync(8, 500, viaRouter, cancellationToken);
            Console.WriteLine($"{"concurrency",11} {"path",-22} {"calls",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"req/s",8}");
            foreach (var concurrency in new[] { 1, 32, 128 })
            {
                var calls = concurrency == 1 ? 1000 : 4000;
                var started = System.Diagnostics.Stopwatch.StartNew();
                var baseline = await LatencyStats.MeasureAsync(concurrency, calls, viaWorker, cancellationToken);
                var baselineRate = calls / started.Elapsed.TotalSeconds;
                started.Restart();
                var routed = await LatencyStats.MeasureAsync(concurrency, calls, viaRouter, cancellationToken);
                var routedRate = calls / started.Elapsed.TotalSeconds;
                Print(concurrency, "direct worker gRPC", baseline, baselineRate);
                Print(concurrency, "routed (Gateway)", routed, routedRate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {"overhead (routed-direct)",-22} {"",6} {routed.P50Ms - baseline.P50Ms,8:F3} {routed.P95Ms - baseline.P95Ms,8:F3} {routed.P99Ms - baseline.P99Ms,8:F3}"));
            }

            var trace = await http.PostAsJsonAsync("v1/route", new { model = "auto", messages = new[] { new { role = "user", content = Question } } }, cancellationToken);
            var routedTrace = await trace.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            var total = routedTrace.GetProperty("latency_ms").GetDouble();
            var workerHop = routedTrace.GetProperty("attempts")[0].GetProperty("latency_ms").GetDouble();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one routed request: {total:F2} ms in the router, of which the worker call {workerHop:F2} ms and Scoring + Policy {total - workerHop:F2} ms"));
            foreach (var (name, service) in new[] { ("worker", worker), ("scoring", scoring), ("policy", policy), ("gateway", gateway) })
            {
                Console.WriteLine($"peak memory {name,-8} {PeakMegabytes(service.Process.Id),7:F0} MB");
            }
        }
        finally
        {
            foreach (var service in all)
            {
                await service.DisposeAsync();
            }
        }
    }

    private static double PeakMegabytes(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault();

    private static void Print(int concurrency, string path, LatencyStats stats, double rate) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {path,-22} {stats.Count,6} {stats.P50Ms,8:F3} {stats.P95Ms,8:F3} {stats.P99Ms,8:F3} {rate,8:F0}"));
}
