using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Router.LocalServers;

namespace Router.AppHost.Hosting;

/// <summary>
/// Runs the declared resources on this machine: private Redis/PostgreSQL (unless connection strings
/// are given), then each service project with Aspire's environment conventions, in dependency order.
/// Stops everything it started on Ctrl+C or SIGTERM, services first.
/// </summary>
public sealed class DistributedApplication
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(90);
    private readonly IReadOnlyList<Resource> _resources;
    private readonly List<Func<Task>> _stopActions = [];
    private readonly List<(string Name, string Kind, string Address)> _table = [];
    private volatile bool _stopping;
    private Exception? _failure;

    internal DistributedApplication(IReadOnlyList<Resource> resources) => _resources = resources;

    public static DistributedApplicationBuilder CreateBuilder(string[] args) => DistributedApplicationBuilder.Create(args);

    /// <summary>Folder for private server data; under the temp folder so the 'postgres' user can reach it.</summary>
    public static string StateDirectory =>
        Environment.GetEnvironmentVariable("ROUTER_APPHOST_STATE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Path.GetTempPath(), "router-apphost");

    public async Task<int> RunAsync()
    {
        using var shutdown = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            ConsoleLog.Host($"{context.Signal} received: stopping.");
            _stopping = true;
            shutdown.Cancel();
        }

        var exitCode = 0;
        try
        {
            await StartAllAsync(shutdown);
            PrintTable();
            await Task.Delay(Timeout.Infinite, shutdown.Token);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested && _failure is null)
        {
        }
        catch (Exception ex) when (ex is ServerUnavailableException or ResourceFailedException or OperationCanceledException)
        {
            ConsoleLog.Host($"error: {(_failure ?? ex).Message}");
            exitCode = 1;
        }
        finally
        {
            _stopping = true;
            await StopAllAsync();
        }

        return exitCode;
    }

    /// <summary>
    /// Starts every resource as soon as the ones it waits for are running, so independent services
    /// start side by side; the first failure cancels the rest.
    /// </summary>
    private async Task StartAllAsync(CancellationTokenSource shutdown)
    {
        CheckForCycles();
        var started = new Dictionary<Resource, Task>();
        Task Start(Resource resource)
        {
            lock (started)
            {
                if (!started.TryGetValue(resource, out var task))
                {
                    task = StartAfterDependenciesAsync(resource);
                    started[resource] = task;
                }

                return task;
            }
        }

        async Task StartAfterDependenciesAsync(Resource resource)
        {
            await Task.Yield();
            await Task.WhenAll(resource.WaitsFor.Select(d => Start(Runnable(d))));
            try
            {
                await StartAsync(resource, shutdown.Token);
            }
            catch (Exception ex) when (ex is ServerUnavailableException or ResourceFailedException)
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
                await shutdown.CancelAsync();
                throw;
            }
        }

        await Task.WhenAll(_resources.Select(Start));
    }

    /// <summary>A database runs as part of its server.</summary>
    private static Resource Runnable(Resource resource) => resource is PostgresDatabaseResource db ? db.Server : resource;

    private void CheckForCycles()
    {
        var done = new HashSet<Resource>();
        var visiting = new HashSet<Resource>();
        void Visit(Resource resource)
        {
            if (done.Contains(resource))
            {
                return;
            }

            if (!visiting.Add(resource))
            {
                throw new InvalidOperationException($"Resource '{resource.Name}' waits for itself through a cycle.");
            }

            foreach (var dependency in resource.WaitsFor)
            {
                Visit(Runnable(dependency));
            }

            done.Add(resource);
        }

        foreach (var resource in _resources)
        {
            Visit(resource);
        }
    }

    private Task StartAsync(Resource resource, CancellationToken cancellationToken) => resource switch
    {
        RedisResource redis => StartRedisAsync(redis, cancellationToken),
        PostgresServerResource postgres => StartPostgresAsync(postgres, cancellationToken),
        ProjectResource project => StartProjectAsync(project, cancellationToken),
        _ => throw new NotSupportedException($"No way to run a {resource.GetType().Name}."),
    };

    private async Task StartRedisAsync(RedisResource redis, CancellationToken cancellationToken)
    {
        if (GivenConnectionString(redis.Name) is { } given)
        {
            redis.ConnectionString = given;
            Record((redis.Name, "redis (given)", given));
            return;
        }

        ConsoleLog.Host($"starting private Redis '{redis.Name}'...");
        var server = await LocalRedisServer.StartAsync(ConsoleLog.For(redis.Name), cancellationToken);
        OnStop(server.StopAsync);
        WatchForUnexpectedExit(redis.Name, server.Process!);
        redis.ConnectionString = server.ConnectionString;
        Record((redis.Name, "redis", server.ConnectionString));
    }

    private async Task StartPostgresAsync(PostgresServerResource postgres, CancellationToken cancellationToken)
    {
        var needed = new List<PostgresDatabaseResource>();
        foreach (var database in postgres.Databases)
        {
            if (GivenConnectionString(database.Name) is { } given)
            {
                database.ConnectionString = given;
                Record((database.Name, "postgres database (given)", RedactPassword(given)));
            }
            else
            {
                needed.Add(database);
            }
        }

        if (needed.Count == 0)
        {
            return;
        }

        ConsoleLog.Host($"starting private PostgreSQL '{postgres.Name}'...");
        var server = await LocalPostgresServer.StartAsync(StateDirectory, ConsoleLog.For(postgres.Name), cancellationToken: cancellationToken);
        OnStop(async () => await server.DisposeAsync());
        WatchForUnexpectedExit(postgres.Name, server.Process!);
        Record((postgres.Name, "postgres", $"127.0.0.1:{server.Port}"));
        foreach (var database in needed)
        {
            await server.CreateDatabaseAsync(database.DatabaseName, cancellationToken);
            database.ConnectionString = server.ConnectionString(database.DatabaseName);
            Record((database.Name, "postgres database", RedactPassword(database.ConnectionString)));
        }
    }

    private async Task StartProjectAsync(ProjectResource project, CancellationToken cancellationToken)
    {
        foreach (var endpoint in project.Endpoints)
        {
            endpoint.Port = FreePort.Next();
        }

        var environment = ProjectEnvironment(project);
        var assembly = project.Project.AssemblyPath;
        if (!File.Exists(assembly))
        {
            throw new ResourceFailedException($"{project.Name}: '{assembly}' is not built. Run 'dotnet build' first.");
        }

        ConsoleLog.Host($"starting {project.Name}...");
        var process = ChildProcess.Start(
            DotnetHost(),
            [assembly],
            environment,
            workingDirectory: Path.GetDirectoryName(project.Project.ProjectPath),
            outputLine: ConsoleLog.For(project.Name));
        OnStop(() => process.StopAsync(TimeSpan.FromSeconds(10)));
        await WaitUntilHealthyAsync(project, process, cancellationToken);
        WatchForUnexpectedExit(project.Name, process);
        foreach (var endpoint in project.Endpoints)
        {
            Record((project.Name, endpoint.Name, endpoint.Url));
        }
    }

    private static Dictionary<string, string?> ProjectEnvironment(ProjectResource project)
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_ENVIRONMENT"] = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Development",
            ["ASPNETCORE_ENVIRONMENT"] = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Development",
            ["ASPNETCORE_URLS"] = null,
            ["OTEL_SERVICE_NAME"] = project.Name,
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"),
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        foreach (var endpoint in project.Endpoints)
        {
            environment[$"Kestrel__Endpoints__{endpoint.Name}__Url"] = endpoint.Url;
            environment[$"Kestrel__Endpoints__{endpoint.Name}__Protocols"] = endpoint.Http2Only ? "Http2" : "Http1";
        }

        foreach (var resource in project.ConnectionReferences)
        {
            environment[$"ConnectionStrings__{resource.Name}"] = resource.ConnectionString
                ?? throw new InvalidOperationException($"{project.Name} references '{resource.Name}', which has no connection string yet: add WaitFor.");
        }

        foreach (var service in project.ServiceReferences)
        {
            foreach (var endpoint in service.Endpoints)
            {
                environment[$"services__{service.Name}__{endpoint.Name}__0"] = endpoint.Url;
            }
        }

        foreach (var (key, value) in project.Environment)
        {
            environment[key] = value;
        }

        return environment;
    }

    private static async Task WaitUntilHealthyAsync(ProjectResource project, ChildProcess process, CancellationToken cancellationToken)
    {
        if (project.HealthEndpoint is not { } endpoint)
        {
            return;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        var last = "no answer yet";
        while (clock.Elapsed < HealthTimeout)
        {
            if (process.HasExited)
            {
                throw new ResourceFailedException(ExitReport(project.Name, await process.Exited, process));
            }

            try
            {
                using var response = await http.GetAsync($"{endpoint.Url}/health", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "health check timed out";
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new ResourceFailedException($"{project.Name} was not healthy within {HealthTimeout.TotalSeconds:0} s; last answer: {last}");
    }

    private void WatchForUnexpectedExit(string name, ChildProcess process) =>
        process.Exited.ContinueWith(
            exited =>
            {
                if (!_stopping)
                {
                    ConsoleLog.Host(ExitReport(name, exited.Result, process));
                }
            },
            TaskScheduler.Default);

    private static string ExitReport(string name, int exitCode, ChildProcess process) =>
        $"{name} exited with code {exitCode}. Last lines:{Environment.NewLine}  " +
        string.Join(Environment.NewLine + "  ", process.Tail.TakeLast(15));

    private async Task StopAllAsync()
    {
        for (var i = _stopActions.Count - 1; i >= 0; i--)
        {
            try
            {
                await _stopActions[i]();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or TimeoutException)
            {
                ConsoleLog.Host($"while stopping: {ex.Message}");
            }
        }

        ConsoleLog.Host("stopped.");
    }

    private void Record((string Name, string Kind, string Address) row)
    {
        lock (_table)
        {
            _table.Add(row);
        }
    }

    private void OnStop(Func<Task> stop)
    {
        lock (_stopActions)
        {
            _stopActions.Add(stop);
        }
    }

    private void PrintTable()
    {
        var order = new Dictionary<string, int>();
        foreach (var (resource, index) in _resources.Select((r, i) => (r, i)))
        {
            order[resource.Name] = 2 * index;
            foreach (var database in (resource as PostgresServerResource)?.Databases ?? [])
            {
                order[database.Name] = (2 * index) + 1;
            }
        }

        var rows = _table.OrderBy(r => order[r.Name]).ToList();
        var nameWidth = Math.Max(8, rows.Max(r => r.Name.Length));
        var kindWidth = Math.Max(8, rows.Max(r => r.Kind.Length));
        var lines = new List<string>
        {
            "Router is running. Press Ctrl+C to stop.",
            $"{"resource".PadRight(nameWidth)}  {"endpoint".PadRight(kindWidth)}  address",
        };
        lines.AddRange(rows.Select(r => $"{r.Name.PadRight(nameWidth)}  {r.Kind.PadRight(kindWidth)}  {r.Address}"));
        foreach (var line in lines)
        {
            ConsoleLog.Host(line);
        }
    }

    private static string? GivenConnectionString(string name) =>
        Environment.GetEnvironmentVariable($"ConnectionStrings__{name}") is { Length: > 0 } value ? value : null;

    private static string RedactPassword(string connectionString) =>
        string.Join(';', connectionString.Split(';').Select(part =>
            part.StartsWith("Password=", StringComparison.OrdinalIgnoreCase) ? "Password=***" : part));

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : ServerPackages.FindOnPath("dotnet") ?? "dotnet";
}

public sealed class ResourceFailedException(string message) : Exception(message);
