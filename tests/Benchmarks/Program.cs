using System.Runtime.InteropServices;
using Router.Benchmarks;

// The router benchmark starts this program a second time as its mock model server, a process of its own.
if (args is [MockModelServer.Command, var url])
{
    return await MockModelServer.RunAsync(url);
}

var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IBenchmark).IsAssignableFrom(t))
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("Usage: dotnet run -c Release --project tests/Benchmarks -- <benchmark>|all");
    foreach (var b in benchmarks)
    {
        Console.WriteLine($"  {b.Name,-12} {b.Description}");
    }

    return args.Length == 0 ? 1 : 0;
}

var selected = args[0] == "all" ? benchmarks : benchmarks.Where(b => b.Name == args[0]).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"Unknown benchmark '{args[0]}'. Known: {string.Join(", ", benchmarks.Select(b => b.Name))}.");
    return 2;
}

// Ctrl+C and a plain kill (or timeout's SIGTERM) both stop the benchmark through its disposals,
// which stop the servers it started; a process that just exited would leave them running.
using var cancellation = new CancellationTokenSource();
void Stop(PosixSignalContext signal)
{
    signal.Cancel = true;
    cancellation.Cancel();
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

try
{
    foreach (var benchmark in selected)
    {
        Console.WriteLine($"== {benchmark.Name}: {benchmark.Description}");
        await benchmark.RunAsync(cancellation.Token);
    }
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.Error.WriteLine("stopped; the servers the benchmark started are stopped too.");
    return 130;
}

return 0;
