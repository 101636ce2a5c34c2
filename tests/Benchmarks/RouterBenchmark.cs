using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Router.Ledger.Recording;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>
/// Issue 15's side-by-side measurement, in one run: a direct call to a mock OpenAI-compatible model
/// server that answers at once, the Portkey gateway from npm in front of it (when node is here), and
/// this router (a named model, a cascade accepted at stage 1, a cascade escalated once; with a worker
/// process per model, and again with the workers in the Gateway's process), all driven
/// by the same closed-loop load generator at c = 1 and 32 with every request distinct; latency,
/// overhead over the direct call, requests/s, errors and CPU per request of every process, beside the
/// issue's acceptance targets. Then issue 14's frozen-Redis check: p50 with Redis stopped by SIGSTOP
/// against the quiet p50, and how fast /health answers meanwhile.
/// </summary>
public sealed class RouterBenchmark : IBenchmark
{
    /// <summary>Seconds each target is measured at each concurrency (after a warm-up); default 10.</summary>
    public const string SecondsVariable = "ROUTER_BENCHMARK_SECONDS";

    /// <summary>
    /// Measures only the targets whose name holds this text, beside the direct call (e.g. "workers in
    /// the Gateway"), for a quicker side-by-side look; no acceptance table or frozen-Redis run then.
    /// </summary>
    public const string OnlyVariable = "ROUTER_BENCHMARK_ONLY";

    /// <summary>
    /// Rounds of the whole set of measurements, one after the other; default 3. Each figure is the
    /// median of its rounds, so a burst of other work on a shared machine moves one round, not the
    /// figure, and each overhead is taken over the direct call of the same round.
    /// </summary>
    public const string RoundsVariable = "ROUTER_BENCHMARK_ROUNDS";

    private const string Question = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn";
    private const double Unsure = 0.2;
    private const string Direct = "direct call to the mock model server";
    private const string Portkey = $"Portkey gateway {PortkeyGateway.Version} (npm), one hop, no scoring or ledger";
    private const string Named = "this router, a named model (worker + Scoring + ledger)";
    private const string Accepted = "this router, cascade accepted at stage 1";
    private const string Escalated = "this router, cascade escalated once";
    private const string InProcessNamed = "workers in the Gateway: a named model";
    private const string InProcessAccepted = "workers in the Gateway: cascade accepted at stage 1";
    private const string InProcessEscalated = "workers in the Gateway: cascade escalated once";
    private static readonly int[] Concurrencies = [1, 32];
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SystemWarmUp = TimeSpan.FromSeconds(5);

    /// <summary>Long enough for several requests even when each waits out a Redis timeout of seconds.</summary>
    private static readonly TimeSpan FrozenAtLeast = TimeSpan.FromSeconds(10);

    public string Name => "router";

    public string Description => $"issue 15: direct call vs Portkey vs this router (named, accepted at stage 1, escalated once) at c = 1 and 32 with CPU per request of every process; issue 14: p50 and /health with Redis frozen ({SecondsVariable} sets the seconds per measurement; {OnlyVariable}=text measures only the targets named with it, beside the direct call)";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var measure = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable(SecondsVariable), out var seconds) && seconds > 0 ? seconds : 10);
        var roundCount = int.TryParse(Environment.GetEnvironmentVariable(RoundsVariable), out var asked) && asked > 0 ? asked : 3;
        var benchmarks = Path.Combine(Path.GetTempPath(), "router-benchmarks");
        // Short: PostgreSQL puts its socket in a folder below, and a socket path holds at most 107 bytes.
        var state = Path.Combine(benchmarks, "r-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(state);
        try
        {
            var (mockProcess, mock) = await MockModelServer.StartProcessAsync(cancellationToken);
            await using var mockLifetime = mockProcess;
            var (portkey, portkeySkipped) = await PortkeyGateway.StartAsync(benchmarks, cancellationToken);
            await using var portkeyLifetime = portkey;
            await using var router = await RouterSystem.StartAsync(state, mock, cancellationToken);
            using var load = new LoadGenerator(Concurrencies.Max());

            var processes = Processes(mockProcess, portkey, router);
            var requestIds = new ConcurrentQueue<string>();
            var targets = Targets(mock, portkey, router, requestIds);
            var only = Environment.GetEnvironmentVariable(OnlyVariable);
            if (!string.IsNullOrEmpty(only))
            {
                targets.RemoveAll(t => t.Load.Name != Direct && !t.Load.Name.Contains(only, StringComparison.Ordinal));
            }
            PrintSetup(router, portkey, portkeySkipped, processes, measure, roundCount);

            foreach (var target in targets.ToList())
            {
                if (await load.CallAsync(target.Load, cancellationToken) is { } problem)
                {
                    if (target.Load.Name != Portkey)
                    {
                        throw new InvalidOperationException($"{target.Load.Name} does not answer as expected: {problem}");
                    }

                    portkeySkipped = $"it did not relay to the mock server: {problem}";
                    targets.Remove(target);
                }
            }

            // Every process JITs and tiers up its hot path before the first measurement, at the highest concurrency.
            Console.Error.WriteLine("warming up every target...");
            foreach (var target in targets)
            {
                await load.RunAsync(target.Load, Concurrencies.Max(), SystemWarmUp, cancellationToken);
            }

            var rounds = new List<TargetRun>();
            for (var round = 1; round <= roundCount; round++)
            {
                foreach (var concurrency in Concurrencies)
                {
                    foreach (var target in targets)
                    {
                        Console.Error.WriteLine($"round {round} of {roundCount}: measuring {target.Load.Name} at c={concurrency} for {measure.TotalSeconds:0} s...");
                        await load.RunAsync(target.Load, concurrency, WarmUp, cancellationToken);
                        var before = processes.ToDictionary(p => p.Name, p => p.Cpu());
                        var machineBefore = MachineCpu.Now();
                        var stallsBefore = router.JournalStalls.Now();
                        var result = await load.RunAsync(target.Load, concurrency, measure, cancellationToken);
                        var machine = MachineCpu.Now() - machineBefore;
                        var stalls = router.JournalStalls.Now() - stallsBefore;
                        var cpu = processes.ToDictionary(p => p.Name, p => p.Cpu() - before[p.Name]);
                        rounds.Add(new TargetRun(target, concurrency, round, result, cpu, machine, stalls));
                    }
                }
            }

            var runs = MedianRun.Of(rounds, Direct);
            if (!string.IsNullOrEmpty(only))
            {
                Console.WriteLine();
                Console.WriteLine(ResultTable(runs, portkeySkipped));
                Console.WriteLine(CpuTable(runs, processes));
                Console.WriteLine(RoundsTable(rounds));
                return;
            }

            Console.Error.WriteLine("measuring with Redis frozen...");
            var frozen = await FrozenRedisAsync(load, targets.Single(t => t.Load.Name == Accepted).Load, router, measure > FrozenAtLeast ? measure : FrozenAtLeast, cancellationToken);
            var routed = requestIds.ToList();
            var recorded = await router.LedgerRowsAsync(routed, cancellationToken);

            Console.WriteLine();
            Console.WriteLine(ResultTable(runs, portkeySkipped));
            Console.WriteLine(CpuTable(runs, processes));
            Console.WriteLine(AcceptanceTable(runs, frozen));
            Console.WriteLine(RoundsTable(rounds));
            Console.WriteLine(frozen.Table());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ledger: {recorded} of the {routed.Count} requests the router answered are in PostgreSQL ({routed.Count - recorded} missing; the request id is the primary key, so none is there twice)."));
            foreach (var (what, result) in rounds.Select(r => ($"{r.Target.Load.Name} at c={r.Concurrency} in round {r.Round}", r.Load)).Append(("the stage-1 cascade with Redis frozen", frozen.Frozen)))
            {
                if (result.FirstError is not null)
                {
                    Console.WriteLine($"first error of {what}: {result.FirstError}");
                }
            }
        }
        finally
        {
            try
            {
                Directory.Delete(state, recursive: true);
            }
            catch (IOException)
            {
                // A leftover folder under the temp directory is harmless.
            }
        }
    }

    /// <summary>Every process whose CPU is measured; each target's own are named in <see cref="BenchmarkTarget.Processes"/>.</summary>
    private static List<MeasuredProcess> Processes(ChildProcess mock, PortkeyGateway? portkey, RouterSystem router)
    {
        var processes = new List<MeasuredProcess>
        {
            // Its own threads only: the system under test are its descendants.
            new("load generator", [Environment.ProcessId], WithDescendants: false),
            new("mock model", [mock.Id]),
        };
        if (portkey is not null)
        {
            processes.Add(new("portkey", [portkey.Process.Id]));
        }

        processes.AddRange(
        [
            new("gateway", [router.Gateway.Process.Id]),
            new("workers", [.. router.Workers.Select(w => w.Process.Id)]),
            new(InProcessGatewayProcess, [router.InProcessGateway.Process.Id]),
            new("scoring", [router.Scoring.Process.Id]),
            new("policy", [router.Policies.Process.Id]),
            new("postgresql", [router.Postgres.ProcessId ?? throw new InvalidOperationException("PostgreSQL is not running.")]),
            new("redis", [router.Redis.ProcessId ?? throw new InvalidOperationException("Redis is not running.")]),
        ]);
        return processes;
    }

    private const string InProcessGatewayProcess = "gateway with workers";
    private static readonly string[] RouterProcesses = ["gateway", "workers", "scoring", "policy", "postgresql", "redis"];
    private static readonly string[] InProcessRouterProcesses = [InProcessGatewayProcess, "scoring", "policy", "postgresql", "redis"];

    private static List<BenchmarkTarget> Targets(Uri mock, PortkeyGateway? portkey, RouterSystem router, ConcurrentQueue<string> requestIds)
    {
        var small = router.Models[0];
        var chatCompletions = new Uri(mock, "v1/chat/completions");

        // What a worker asks the model server for: the answer with the top-5 log-probs of every token.
        string ModelRequest(long n) => JsonSerializer.Serialize(new
        {
            model = small,
            messages = new[] { new { role = "user", content = $"{Question} (request {n})" } },
            max_tokens = 512,
            logprobs = true,
            top_logprobs = 5,
        });
        string RoutedRequest(string model, double? confidence, long n) => JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "user", content = MockAnswer.Prompt($"{Question} (request {n})", confidence) } },
        });

        // A routed answer must have taken the route the row claims, and its id is kept to find it in the ledger.
        Func<HttpResponseMessage, string?> RoutedOver(params string[] stages) => response =>
        {
            var taken = response.Headers.TryGetValues("x-router-stages", out var values) ? string.Join(",", values) : "(no x-router-stages header)";
            if (response.Headers.TryGetValues("x-router-request-id", out var ids))
            {
                requestIds.Enqueue(ids.First());
            }

            return taken == string.Join(",", stages) ? null : $"routed over {taken}, expected {string.Join(",", stages)}";
        };

        var gateway = new Uri(router.Gateway.Http, "v1/chat/completions");
        var none = new Dictionary<string, string>();
        var cascade = $"cascade/{RouterSystem.Policy}";
        var targets = new List<BenchmarkTarget>
        {
            new(new LoadTarget(Direct, chatCompletions, none, ModelRequest, _ => null), []),
        };
        if (portkey is not null)
        {
            targets.Add(new(new LoadTarget(Portkey, new Uri(portkey.Address, "v1/chat/completions"), PortkeyGateway.HeadersFor(mock), ModelRequest, _ => null), ["portkey"]));
        }

        targets.Add(new(new LoadTarget(Named, gateway, none, n => RoutedRequest(small, null, n), RoutedOver(small)), RouterProcesses));
        targets.Add(new(new LoadTarget(Accepted, gateway, none, n => RoutedRequest(cascade, null, n), RoutedOver(small)), RouterProcesses));
        targets.Add(new(new LoadTarget(Escalated, gateway, none, n => RoutedRequest(cascade, Unsure, n), RoutedOver([.. router.Models])), RouterProcesses));
        var inProcess = new Uri(router.InProcessGateway.Http, "v1/chat/completions");
        targets.Add(new(new LoadTarget(InProcessNamed, inProcess, none, n => RoutedRequest(small, null, n), RoutedOver(small)), InProcessRouterProcesses));
        targets.Add(new(new LoadTarget(InProcessAccepted, inProcess, none, n => RoutedRequest(cascade, null, n), RoutedOver(small)), InProcessRouterProcesses));
        targets.Add(new(new LoadTarget(InProcessEscalated, inProcess, none, n => RoutedRequest(cascade, Unsure, n), RoutedOver([.. router.Models])), InProcessRouterProcesses));
        return targets;
    }

    private static void PrintSetup(RouterSystem router, PortkeyGateway? portkey, string? portkeySkipped, List<MeasuredProcess> processes, TimeSpan measure, int rounds)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            machine: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Trim()} at the start (a shared machine: other work runs beside this benchmark, so figures are noisy)
            mock model server: its own process, answers at once with {MockAnswer.Length} tokens and their top-5 log-probs; confidence {MockAnswer.DefaultConfidence} per token, or {Unsure} for "unsure" prompts
            router: policy '{RouterSystem.Policy}' = [{string.Join(", ", router.Models)}], stage 1 accepts at P(correct) >= {RouterSystem.Threshold} (uncalibrated: the geometric-mean token probability); Access:Mode=Open, response cache off (the defaults), Scoring's score cache on; PostgreSQL and the Gateway's journal fsync on
            Portkey: {(portkey is not null ? $"{PortkeyGateway.Version} on node, --headless, NODE_ENV=production" : $"skipped: {portkeySkipped}")}
            load: closed loop, HTTP/1.1 keep-alive, every request distinct; {WarmUp.TotalSeconds:0} s warm-up then {measure.TotalSeconds:0} s measured per target and concurrency, in {rounds} rounds one after the other; each figure below is the median of its rounds (overheads over the direct call of the same round, errors summed)
            processes measured (CPU = utime + stime of each process tree from /proc): {string.Join(", ", processes.Select(p => $"{p.Name} (pid {string.Join(" ", p.Pids)})"))}
            """));
    }

    private static MarkdownTable ResultTable(List<MedianRun> runs, string? portkeySkipped)
    {
        var table = new MarkdownTable("target", "c=1 p50 / p99 ms", "c=1 overhead p50 / p99 ms", "c=32 req/s", "c=32 p50 / p99 ms", "errors c=1 / c=32", "CPU ms/request c=32, its processes", "CPU ms/request c=32, all incl. mock + load generator", $"req/s the {Environment.ProcessorCount} cores allow at that cost");
        foreach (var name in runs.Select(r => r.Target.Load.Name).Distinct())
        {
            var one = runs.Single(r => r.Target.Load.Name == name && r.Concurrency == 1);
            var many = runs.Single(r => r.Target.Load.Name == name && r.Concurrency == 32);
            table.Add(
                name,
                Ms(one.P50Ms, one.P99Ms),
                Ms(one.OverheadP50Ms, one.OverheadP99Ms),
                Invariant($"{many.RequestsPerSecond:N0}"),
                Ms(many.P50Ms, many.P99Ms),
                Invariant($"{one.Errors} / {many.Errors}"),
                Invariant($"{many.CpuPerRequestMs(many.Target.Processes):F3}"),
                Invariant($"{many.CpuPerRequestMs(many.AllProcesses):F3}"),
                Invariant($"{CpuBoundRate(many):N0}"));
        }

        if (portkeySkipped is not null)
        {
            table.Add($"Portkey gateway: skipped, {portkeySkipped}", "-", "-", "-", "-", "-", "-", "-", "-");
        }

        return table;
    }

    private static MarkdownTable CpuTable(List<MedianRun> runs, List<MeasuredProcess> processes)
    {
        var table = new MarkdownTable([$"CPU ms per request", "c", .. processes.Select(p => p.Name), "its processes", "all"]);
        foreach (var run in runs)
        {
            table.Add([
                run.Target.Load.Name,
                Invariant($"{run.Concurrency}"),
                .. processes.Select(p => Invariant($"{run.CpuPerRequestMs([p.Name]):F3}")),
                Invariant($"{run.CpuPerRequestMs(run.Target.Processes):F3}"),
                Invariant($"{run.CpuPerRequestMs(run.AllProcesses):F3}"),
            ]);
        }

        return table;
    }

    private static MarkdownTable AcceptanceTable(List<MedianRun> runs, FrozenRedis frozen)
    {
        var table = new MarkdownTable("acceptance (issues 15 and 14)", "target", "measured", "");
        void Row(string what, string target, string measured, bool met) => table.Add(what, target, measured, met ? "met" : "MISSED");
        foreach (var (deployment, accepted, escalated) in new[] { ("worker processes", Accepted, Escalated), ("workers in the Gateway", InProcessAccepted, InProcessEscalated) })
        {
            var accepted1 = runs.Single(r => r.Target.Load.Name == accepted && r.Concurrency == 1);
            var accepted32 = runs.Single(r => r.Target.Load.Name == accepted && r.Concurrency == 32);
            var escalated32 = runs.Single(r => r.Target.Load.Name == escalated && r.Concurrency == 32);
            var cpu = accepted32.CpuPerRequestMs(accepted32.Target.Processes);
            Row($"{deployment}: c=1 overhead p50, accepted at stage 1", "<= 0.5 ms", Invariant($"{accepted1.OverheadP50Ms:F3} ms"), accepted1.OverheadP50Ms <= 0.5);
            Row($"{deployment}: c=1 overhead p99, accepted at stage 1", "<= 3 ms", Invariant($"{accepted1.OverheadP99Ms:F3} ms"), accepted1.OverheadP99Ms <= 3);
            Row($"{deployment}: c=32 accepted at stage 1", ">= 5,000 req/s, no errors", Invariant($"{accepted32.RequestsPerSecond:N0} req/s, {accepted32.Errors} errors (CPU-bound ceiling {CpuBoundRate(accepted32):N0})"), accepted32.RequestsPerSecond >= 5000 && accepted32.Errors == 0);
            Row($"{deployment}: c=32 escalated once", ">= 2,800 req/s", Invariant($"{escalated32.RequestsPerSecond:N0} req/s, {escalated32.Errors} errors (CPU-bound ceiling {CpuBoundRate(escalated32):N0})"), escalated32.RequestsPerSecond >= 2800);
            Row($"{deployment}: CPU per routed request, the router's processes, c=32, accepted at stage 1", "<= 0.3 ms", Invariant($"{cpu:F3} ms ({accepted32.CpuPerRequestMs(accepted32.AllProcesses):F3} with the mock and the load generator)"), cpu <= 0.3);
        }

        Row("Redis frozen: p50 rise over the quiet p50", "<= 50 ms", Invariant($"{frozen.Frozen.Latency.P50Ms - frozen.Quiet.Latency.P50Ms:F3} ms"), frozen.Frozen.Latency.P50Ms - frozen.Quiet.Latency.P50Ms <= 50);
        Row("Redis frozen: slowest /health", "<= 1,000 ms", Invariant($"{frozen.SlowestHealthMs:F0} ms"), frozen.SlowestHealthMs <= 1000);
        return table;
    }

    /// <summary>
    /// The stage-1 cascade at c=1 for <paramref name="duration"/> with Redis answering, then again with
    /// Redis stopped (SIGSTOP: its connections stay open and nothing answers, as with a hung server)
    /// while /health is asked every 250 ms; Redis is resumed whatever happens.
    /// </summary>
    private static async Task<FrozenRedis> FrozenRedisAsync(LoadGenerator load, LoadTarget target, RouterSystem router, TimeSpan duration, CancellationToken cancellationToken)
    {
        var quiet = await load.RunAsync(target, 1, duration, cancellationToken);
        var redis = router.Redis.ProcessId ?? throw new InvalidOperationException("Redis is not running.");
        await SignalAsync(redis, "STOP");
        try
        {
            using var probing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var health = ProbeHealthAsync(new Uri(router.Gateway.Http, "/health"), probing.Token);
            var frozen = await load.RunAsync(target, 1, duration, cancellationToken);
            await probing.CancelAsync();
            return new FrozenRedis(quiet, frozen, await health);
        }
        finally
        {
            await SignalAsync(redis, "CONT");
        }
    }

    private static async Task<List<(double Ms, string Status)>> ProbeHealthAsync(Uri health, CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var probes = new List<(double, string)>();
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            string status;
            try
            {
                using var response = await http.GetAsync(health, CancellationToken.None);
                status = $"{(int)response.StatusCode} {HealthSummary(await response.Content.ReadAsStringAsync(CancellationToken.None))}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                status = e.GetType().Name;
            }

            probes.Add((Stopwatch.GetElapsedTime(started).TotalMilliseconds, status));
            try
            {
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return probes;
    }

    /// <summary>The overall status of a /health report and the checks that are not healthy, e.g. "Degraded (cache)".</summary>
    private static string HealthSummary(string report)
    {
        try
        {
            var root = JsonDocument.Parse(report).RootElement;
            var unhealthy = root.GetProperty("checks").EnumerateObject().Where(c => c.Value.GetProperty("status").GetString() != "Healthy").Select(c => c.Name);
            return $"{root.GetProperty("status").GetString()} ({string.Join(", ", unhealthy)})";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return report.Length > 60 ? report[..60] : report;
        }
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} failed with exit code {kill.ExitCode}.");
        }
    }

    /// <summary>
    /// The rate at which every process together (mock and load generator included) would use all the
    /// machine's cores at the CPU cost per request measured: what the run could reach with the cores to
    /// itself, a figure other work on a shared machine disturbs less than the rate it measured.
    /// </summary>
    private static double CpuBoundRate(MedianRun run) => Environment.ProcessorCount * 1000 / run.CpuPerRequestMs(run.AllProcesses);

    /// <summary>
    /// Each round's figures behind the medians, for the router's targets, with the load average after
    /// it and, during the c=32 measurement, the share of the cores the hypervisor gave other virtual
    /// machines (steal), the share no process used (idle and I/O wait) and the journal fsyncs that
    /// stalled (every request waits behind one).
    /// </summary>
    private static MarkdownTable RoundsTable(List<TargetRun> rounds)
    {
        var table = new MarkdownTable("round by round", "round", "c=1 overhead p50 / p99 ms", "c=32 req/s", "CPU ms/request c=32, its processes", "load average (1 min) after c=1 / c=32", "c=32: cores stolen / idle", Invariant($"c=32: journal fsyncs >= {TimedFlush.SlowAfter.TotalMilliseconds:0} ms, total"));
        foreach (var name in rounds.Select(r => r.Target.Load.Name).Distinct().Where(n => n != Direct))
        {
            foreach (var round in rounds.Select(r => r.Round).Distinct())
            {
                TargetRun Of(string target, int concurrency) => rounds.Single(r => r.Target.Load.Name == target && r.Concurrency == concurrency && r.Round == round);
                var (one, many, direct) = (Of(name, 1), Of(name, 32), Of(Direct, 1));
                table.Add(
                    name,
                    Invariant($"{round}"),
                    Ms(one.Load.Latency.P50Ms - direct.Load.Latency.P50Ms, one.Load.Latency.P99Ms - direct.Load.Latency.P99Ms),
                    Invariant($"{many.Load.RequestsPerSecond:N0}"),
                    Invariant($"{many.CpuPerRequestMs(many.Target.Processes):F3}"),
                    Invariant($"{one.LoadAverage:F2} / {many.LoadAverage:F2}"),
                    Invariant($"{many.Machine.StealPercent:F0}% / {many.Machine.IdlePercent:F0}%"),
                    many.JournalStalls.ToString());
            }
        }

        return table;
    }

    private static string Ms(double p50, double p99) => Invariant($"{p50:F2} / {p99:F2}");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A target of the load generator and the processes that serve it besides the mock model and the load generator.</summary>
public sealed record BenchmarkTarget(LoadTarget Load, IReadOnlyList<string> Processes);

/// <summary>A process (or the workers together) whose CPU time is measured: the roots of the trees <see cref="Cpu"/> sums.</summary>
public sealed record MeasuredProcess(string Name, IReadOnlyList<int> Pids, bool WithDescendants = true)
{
    public TimeSpan Cpu() => Pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + (WithDescendants ? ProcessCpu.OfTree(pid) : ProcessCpu.OfProcess(pid)));
}

/// <summary>
/// One target measured at one concurrency in one round, with the CPU each process spent meanwhile,
/// the machine's CPU by kind and the Gateways' stalled journal fsyncs meanwhile, and its load average after.
/// </summary>
public sealed record TargetRun(BenchmarkTarget Target, int Concurrency, int Round, LoadResult Load, IReadOnlyDictionary<string, TimeSpan> Cpu, MachineCpu Machine, JournalStallCount JournalStalls)
{
    public double LoadAverage { get; } = double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>CPU milliseconds per completed request of the named processes, the load generator and the mock model included only if named.</summary>
    public double CpuPerRequestMs(IEnumerable<string> processes) =>
        processes.Sum(p => Cpu.TryGetValue(p, out var spent) ? spent.TotalMilliseconds : 0) / Math.Max(1, Load.Completed);
}

/// <summary>
/// A target at one concurrency over every round: each figure is the median of the rounds' (of the
/// per-round sums, for CPU), each overhead over the direct call of the same round, errors summed.
/// </summary>
public sealed record MedianRun(BenchmarkTarget Target, int Concurrency, IReadOnlyList<TargetRun> Rounds, IReadOnlyList<TargetRun> DirectRounds)
{
    public double P50Ms => Median(Rounds.Select(r => r.Load.Latency.P50Ms));

    public double P99Ms => Median(Rounds.Select(r => r.Load.Latency.P99Ms));

    public double OverheadP50Ms => Median(Rounds.Zip(DirectRounds, (r, d) => r.Load.Latency.P50Ms - d.Load.Latency.P50Ms));

    public double OverheadP99Ms => Median(Rounds.Zip(DirectRounds, (r, d) => r.Load.Latency.P99Ms - d.Load.Latency.P99Ms));

    public double RequestsPerSecond => Median(Rounds.Select(r => r.Load.RequestsPerSecond));

    public int Errors => Rounds.Sum(r => r.Load.Errors);

    public IEnumerable<string> AllProcesses => Rounds[0].Cpu.Keys;

    public double CpuPerRequestMs(IEnumerable<string> processes)
    {
        var names = processes.ToList();
        return Median(Rounds.Select(r => r.CpuPerRequestMs(names)));
    }

    public static List<MedianRun> Of(IReadOnlyList<TargetRun> rounds, string direct) =>
        [.. rounds.GroupBy(r => (r.Target.Load.Name, r.Concurrency)).Select(g => new MedianRun(
            g.First().Target,
            g.Key.Concurrency,
            [.. g.OrderBy(r => r.Round)],
            [.. rounds.Where(r => r.Target.Load.Name == direct && r.Concurrency == g.Key.Concurrency).OrderBy(r => r.Round)]))];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}

/// <summary>Issue 14's frozen-Redis measurement: the same requests with Redis answering and stopped, and /health meanwhile.</summary>
public sealed record FrozenRedis(LoadResult Quiet, LoadResult Frozen, IReadOnlyList<(double Ms, string Status)> Health)
{
    public double SlowestHealthMs => Health.Count == 0 ? double.NaN : Health.Max(h => h.Ms);

    public MarkdownTable Table()
    {
        var table = new MarkdownTable("Redis frozen (SIGSTOP), cascade accepted at stage 1, c=1", "requests", "p50 ms", "p99 ms", "max ms", "errors", "/health while frozen");
        table.Add("quiet", Count(Quiet), F(Quiet.Latency.P50Ms), F(Quiet.Latency.P99Ms), F(Quiet.Latency.MaxMs), Count(Quiet.Errors), "-");
        var statuses = string.Join(", ", Health.GroupBy(h => h.Status).Select(g => $"{g.Count()} x {g.Key}"));
        table.Add("Redis frozen", Count(Frozen), F(Frozen.Latency.P50Ms), F(Frozen.Latency.P99Ms), F(Frozen.Latency.MaxMs), Count(Frozen.Errors), string.Create(CultureInfo.InvariantCulture, $"{Health.Count} probes, slowest {SlowestHealthMs:F0} ms: {statuses}"));
        return table;
    }

    private static string Count(LoadResult result) => Count(result.Completed);

    private static string Count(int count) => count.ToString(CultureInfo.InvariantCulture);

    private static string F(double ms) => ms.ToString("F2", CultureInfo.InvariantCulture);
}
