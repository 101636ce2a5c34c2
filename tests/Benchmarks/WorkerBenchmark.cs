using System.Globalization;
using System.Text;
using Router.Contracts;
using Router.Testing.OpenAiStub;

namespace Router.Benchmarks;

/// <summary>
/// What the InferenceWorker adds: the same chat completion with logprobs sent straight to a
/// stub OpenAI-compatible backend, and through the worker's gRPC (worker process -> stub), side by side.
/// </summary>
public sealed class WorkerBenchmark : IBenchmark
{
    public string Name => "worker";

    public string Description => "InferenceWorker gRPC overhead versus calling the backend directly, p50/p99 at concurrency 1 and 32";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var stub = await OpenAiStubServer.StartAsync();
        await using var worker = await ServiceProcess.StartAsync("InferenceWorker", new Dictionary<string, string?>
        {
            ["Worker__Model"] = "llama3.1-8b",
            ["Worker__Backend"] = "vllm",
            ["Worker__Endpoint"] = stub.Address.ToString(),
            ["Worker__ContextLength"] = "8192",
        }, cancellationToken);
        using var channel = worker.Channel();
        var client = new Inference.InferenceClient(channel);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = stub.Address };
        const string Body = """{"model":"llama3.1-8b","messages":[{"role":"user","content":"Which planet is known as the Red Planet?"}],"max_tokens":64,"logprobs":true,"top_logprobs":5}""";
        var request = new GenerateRequest { Messages = { new ChatMessage { Role = "user", Content = "Which planet is known as the Red Planet?" } }, MaxTokens = 64, TopLogprobs = 5 };

        Func<int, Task> direct = async _ =>
        {
            using var response = await http.PostAsync("v1/chat/completions", new StringContent(Body, Encoding.UTF8, "application/json"), cancellationToken);
            await response.Content.ReadAsByteArrayAsync(cancellationToken);
        };
        Func<int, Task> viaWorker = async _ => await client.GenerateAsync(request, cancellationToken: cancellationToken);

        await LatencyStats.MeasureAsync(8, 400, direct, cancellationToken);
        await LatencyStats.MeasureAsync(8, 400, viaWorker, cancellationToken);
        Console.WriteLine($"{"concurrency",11} {"path",-18} {"calls",6} {"p50 ms",8} {"p99 ms",8}");
        foreach (var concurrency in new[] { 1, 32 })
        {
            var calls = concurrency == 1 ? 1000 : 4000;
            var baseline = await LatencyStats.MeasureAsync(concurrency, calls, direct, cancellationToken);
            var routed = await LatencyStats.MeasureAsync(concurrency, calls, viaWorker, cancellationToken);
            Print(concurrency, "direct HTTP", baseline);
            Print(concurrency, "worker gRPC", routed);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {"ratio",-18} {"",6} {routed.P50Ms / baseline.P50Ms,8:F2} {routed.P99Ms / baseline.P99Ms,8:F2}   (worker / direct)"));
        }
    }

    private static void Print(int concurrency, string path, LatencyStats stats) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{concurrency,11} {path,-18} {stats.Count,6} {stats.P50Ms,8:F3} {stats.P99Ms,8:F3}"));
}
