using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Router.Contracts;
using Router.LocalServers;
using Router.Testing;

namespace Router.Benchmarks;

/// <summary>
/// The whole routed path (Gateway -> worker -> Scoring -> Policy -> ledger journal) with
/// zero-latency simulated workers, against a direct gRPC call to the same worker: the router's
/// overhead at concurrency 1, 32 and 128 on the full path and on response-cache hits, the
/// sustained rate and its errors, each hop's cost from the traces, and each service's peak memory.
/// </summary>
public sealed class RouterBenchmark : IBenchmark
{
    public string Name => "router";

    public string Description => "router overhead versus a direct worker call (c = 1, 32, 128; full path and cache hits), sustained requests/s and errors, cost per hop, peak memory per service";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var state = Path.Combine(Path.GetTempPath(), "router-benchmarks");
        await using var redis = await LocalRedisServer.StartAsync(_ => { });
        await using var postgres = await LocalPostgresServer.StartAsync(state, _ => { }, durable: false);
        await postgres.CreateDatabaseAsync("ledger");
        var ledger = postgres.ConnectionString("ledger");

        var worker = await ServiceProcess.StartAsync("InferenceWorker", new Dictionary<string, string?>
        {
            ["Worker__Model"] = "llama3.1-8b",
            ["Worker__Backend"] = "simulated",
            ["Worker__SimulateLatency"] = "false",
        }, cancellationToken);
        var scoring = await ServiceProcess.StartAsync("Scoring", new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = redis.ConnectionString,
            ["ConnectionStrings__ledger"] = ledger,
        }, cancellationToken);
        var policy = await ServiceProcess.StartAsync("Policy", new Dictionary<string, string?>
        {
            ["ConnectionStrings__ledger"] = ledger,
            ["Policy__Defaults__single__Chain__0"] = "llama3.1-8b",
        }, cancellationToken);
        var gateway = await ServiceProcess.StartAsync("Gateway", new Dictionary<string, string?>
        {
            ["ConnectionStrings__cache"] = redis.ConnectionString,
            ["ConnectionStrings__ledger"] = ledger,
            ["Access__Mode"] = "Open",
            ["Ledger__Directory"] = Path.Combine(state, "journal-" + Guid.NewGuid().ToString("N")),
            ["Routing__DefaultPolicy"] = "single",
            ["ResponseCache__Enabled"] = "true",
            ["Portfolio__Json"] = TestPortfolio.Json,
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
            var errors = 0;

            // Every full-path call asks a question never asked before, so neither the response cache
            // nor the score cache can answer it; the cached path asks one question again and again.
            var asked = 0;
            Func<int, Task> viaWorker = async _ => await direct.GenerateAsync(grpcRequest, cancellationToken: cancellationToken);
            Func<int, Task> Routed(Func<string> question) => async _ =>
            {
                if (!await PostAsync(http, "v1/chat/completions", question(), cancellationToken))
                {
                    Interlocked.Increment(ref errors);
                }
            };
            var fullPath = Routed(() => $"{Question} (#{Interlocked.Increment(ref asked)})");
            var cachedPath = Routed(() => Question);

            await LatencyStats.MeasureAsync(8, 500, viaWorker, cancellationToken);
            await LatencyStats.MeasureAsync(8, 500, fullPath, cancellationToken);
            await LatencyStats.MeasureAsync(8, 500, cachedPath, cancellationToken);
            errors = 0;
            Console.WriteLine($"{"concurrency",11} {"path",-30} {"calls",6} {"p50 ms",8} {"p95 ms",8} {"p99 ms",8} {"req/s",8}");
            foreach (var concurrency in new[] { 1, 32, 128 })
            {
                var calls = concurrency == 1 ? 1000 : 4000;
                var (baseline, baselineRate) = await TimedAsync(concurrency, calls, viaWorker, cancellationToken);
                var (routed, routedRate) = await TimedAsync(concurrency, calls, fullPath, cancellationToken);
                var (cached, cachedRate) = await TimedAsync(concurrency, calls, cachedPath, cancellationToken);
                Print(concurrency, "direct worker gRPC", baseline, baselineRate);
                Print(concurrency, "routed, full path", routed, routedRate);
                Print(concurrency, "routed, response-cache hit", cached, cachedRate);
                PrintOverhead(concurrency, "overhead, full path", routed, baseline);
                PrintOverhead(concurrency, "overhead, cache hit", cached, baseline);
            }

            Console.WriteLine($"errors during the runs above: {errors}");
            var processes = new (string Name, int Pid, bool WithChildren)[]
            {
                ("load generator", Environment.ProcessId, false),
                ("gateway", gateway.Process.Id, false),
                ("worker", worker.Process.Id, false),
                ("scoring", scoring.Process.Id, false),
                ("policy", policy.Process.Id, false),
                ("redis", redis.ProcessId ?? 0, false),
                ("postgresql", postgres.ProcessId ?? 0, true),
            };
            await SustainedAsync(fullPath, () => errors, processes, cancellationToken);
            await HopsAsync(http, Question, cancellationToken);
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

    private static async Task<bool> PostAsync(HttpClient http, string path, string question, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(new { model = "auto", messages = new[] { new { role = "user", content = question } } });
        using var response = await http.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"), cancellationToken);
        await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return response.IsSuccessStatusCode;
    }

    private static async Task<(LatencyStats Stats, double Rate)> TimedAsync(int concurrency, int calls, Func<int, Task> call, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var stats = await LatencyStats.MeasureAsync(concurrency, calls, call, cancellationToken);
        return (stats, calls / started.Elapsed.TotalSeconds);
    }

    /// <summary>The full path under a closed loop of 64 callers for 15 s: the rate the system sustains, and how many calls failed.</summary>
    private static async Task SustainedAsync(Func<int, Task> fullPath, Func<int> errors, (string Name, int Pid, bool WithChildren)[] processes, CancellationToken cancellationToken)
    {
        var cpuBefore = processes.Select(p => CpuSeconds(p.Pid, p.WithChildren)).ToArray();
        var before = errors();
        var calls = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(15);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            while (clock.Elapsed < duration)
            {
                await fullPath(0);
                Interlocked.Increment(ref calls);
            }
        }));
        var failed = errors() - before;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sustained, full path, 64 callers for {clock.Elapsed.TotalSeconds:F0} s: {calls / clock.Elapsed.TotalSeconds:F0} req/s, {failed} errors of {calls} ({100.0 * failed / Math.Max(1, calls):F2}%)"));
        Console.WriteLine("CPU per routed request (ms) during that run, by process:");
        var total = 0.0;
        for (var i = 0; i < processes.Length; i++)
        {
            var spent = CpuSeconds(processes[i].Pid, processes[i].WithChildren) - cpuBefore[i];
            total += spent;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {processes[i].Name,-15} {1000 * spent / Math.Max(1, calls),7:F3}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"all",-15} {1000 * total / Math.Max(1, calls),7:F3}  (the {Environment.ProcessorCount} cores allow at most {Environment.ProcessorCount * calls / Math.Max(total, 1e-9):F0} req/s at this cost)"));
    }

    /// <summary>User plus system CPU seconds of a process, and if asked of everything it started (PostgreSQL's backends).</summary>
    private static double CpuSeconds(int pid, bool withChildren)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var own = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
            if (!withChildren)
            {
                return own;
            }

            return own + Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Sum(child => CpuSeconds(int.Parse(child, CultureInfo.InvariantCulture), withChildren: true));
        }
        catch (IOException)
        {
            // The process (a PostgreSQL backend, say) exited while it was being read.
            return 0;
        }
    }

    /// <summary>Each hop's share of a routed request, from the hops_ms of 300 /v1/route traces of new questions, one at a time.</summary>
    private static async Task HopsAsync(HttpClient http, string question, CancellationToken cancellationToken)
    {
        var hops = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var totals = new List<double>();
        var observed = new List<double>();
        for (var i = 0; i < 300; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var response = await http.PostAsJsonAsync("v1/route", new { model = "auto", messages = new[] { new { role = "user", content = $"{question} (hop #{i})" } } }, cancellationToken);
            var trace = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            observed.Add(clock.Elapsed.TotalMilliseconds);
            totals.Add(trace.GetProperty("latency_ms").GetDouble());
            foreach (var hop in trace.GetProperty("hops_ms").EnumerateObject())
            {
                (hops.TryGetValue(hop.Name, out var samples) ? samples : hops[hop.Name] = []).Add(hop.Value.GetDouble());
            }
        }

        Console.WriteLine($"{"hop (from traces, c=1)",-24} {"p50 ms",8} {"p99 ms",8}");
        foreach (var (hop, samples) in hops.Append(KeyValuePair.Create("routing total", totals)).Append(KeyValuePair.Create("as the client saw it", observed)))
        {
            var stats = LatencyStats.From(samples);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{hop,-24} {stats.P50Ms,8:F3} {stats.P99Ms,8:F3}"));
        }
    }

    private static void PrintOverhead(int concurrency, string path, LatencyStats routed, LatencyStats baseline) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {path,-30} {"",6} {routed.P50Ms - baseline.P50Ms,8:F3} {routed.P95Ms - baseline.P95Ms,8:F3} {routed.P99Ms - baseline.P99Ms,8:F3}"));

    private static double PeakMegabytes(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault();

    private static void Print(int concurrency, string path, LatencyStats stats, double rate) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {path,-30} {stats.Count,6} {stats.P50Ms,8:F3} {stats.P95Ms,8:F3} {stats.P99Ms,8:F3} {rate,8:F0}"));
}
