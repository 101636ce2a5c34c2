using System.Diagnostics;
using Grpc.Net.Client;
using Router.LocalServers;

namespace Router.Benchmarks;

/// <summary>A built service started as its own process on free loopback ports, as the AppHost starts it.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private ServiceProcess(ChildProcess process, Uri http, Uri grpc) => (Process, Http, Grpc) = (process, http, grpc);

    public ChildProcess Process { get; }

    public Uri Http { get; }

    public Uri Grpc { get; }

    public GrpcChannel Channel() => GrpcChannel.ForAddress(Grpc);

    public static async Task<ServiceProcess> StartAsync(string service, IDictionary<string, string?> settings, CancellationToken cancellationToken)
    {
        var http = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var grpc = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var environment = new Dictionary<string, string?>(settings)
        {
            ["Kestrel__Endpoints__http__Url"] = http.ToString(),
            ["Kestrel__Endpoints__grpc__Url"] = grpc.ToString(),
            ["Kestrel__Endpoints__grpc__Protocols"] = "Http2",
            ["Logging__LogLevel__Default"] = "Warning",
            ["DOTNET_ENVIRONMENT"] = "Production",
        };
        var assembly = BuiltService(service);
        var process = ChildProcess.Start("dotnet", [assembly], environment, Path.GetDirectoryName(assembly));
        await WaitUntilAnswersAsync(service, process, new Uri(http, "/alive"), cancellationToken);
        return new ServiceProcess(process, http, grpc);
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it answers 2xx. If the process exits, a minute passes or
    /// the run is cancelled first, the process is killed, so a failed start leaves nothing running.
    /// </summary>
    public static async Task WaitUntilAnswersAsync(string name, ChildProcess process, Uri probe, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        try
        {
            while (!await AnswersAsync(client, probe, cancellationToken))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(60) || process.Exited.IsCompleted)
                {
                    throw new InvalidOperationException($"{name} did not start:\n{string.Join('\n', process.Tail)}");
                }

                await Task.Delay(100, cancellationToken);
            }
        }
        catch
        {
            process.Kill();
            throw;
        }
    }

    private static async Task<bool> AnswersAsync(HttpClient client, Uri probe, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetAsync(probe, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// A service's assembly as the build left it (the benchmark references each service project so it
    /// is built first, in the benchmark's own configuration).
    /// </summary>
    private static string BuiltService(string service)
    {
        var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!);
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            var assembly = Path.Combine(folder.FullName, "services", service, "bin", configuration, "net10.0", service + ".dll");
            if (File.Exists(assembly))
            {
                return assembly;
            }
        }

        throw new InvalidOperationException($"{service} is not built; run 'dotnet build -c {configuration} tests/Benchmarks' first.");
    }

    public async ValueTask DisposeAsync()
    {
        await Process.StopAsync(TimeSpan.FromSeconds(10));
        await Process.DisposeAsync();
    }
}
