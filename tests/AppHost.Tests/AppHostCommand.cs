using System.Globalization;
using System.Text.RegularExpressions;
using Router.LocalServers;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>
/// <c>dotnet run --project AppHost</c> as a developer runs it (already built), on ports of its own so
/// that it never meets a developer's run, stopped with Ctrl+C (SIGINT to the command and the AppHost,
/// as a terminal sends it to its foreground processes).
/// </summary>
public sealed partial class AppHostCommand : IAsyncDisposable
{
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ChildProcess? _process;

    public int GatewayPort { get; } = FreePort.Next();

    public int DashboardPort { get; } = FreePort.Next();

    public Uri Gateway => new(Match(GatewayLine()).Groups[1].Value);

    public string DashboardLogin => Match(DashboardLine()).Groups[1].Value;

    public string RunFolder => Match(RunFolderLine()).Groups[1].Value;

    /// <summary>Every process of the run (the orchestrator and every resource), read while it runs.</summary>
    public HashSet<int> Processes { get; private set; } = [];

    public int AppHostProcessId { get; private set; }

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public static async Task<AppHostCommand> StartAsync()
    {
        var command = new AppHostCommand();
        var repository = RepositoryRoot();
        // Through env, which resets SIGINT to its default before it runs 'dotnet run': a test host
        // started in the background of a shell without job control inherits SIGINT ignored, and
        // .NET keeps a signal ignored at start ignored, so Ctrl+C would never arrive.
        command._process = ChildProcess.Start(
            "env",
            ["--default-signal=INT", "dotnet", "run", "--project", "AppHost", "--no-build", "--no-launch-profile", "-c", BuildConfiguration],
            new Dictionary<string, string?>
            {
                ["DOTNET_ENVIRONMENT"] = "Development",
                ["ASPNETCORE_ENVIRONMENT"] = "Development",
                ["ASPNETCORE_URLS"] = $"http://localhost:{command.DashboardPort}",
                ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}",
                ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://localhost:{FreePort.Next()}",
                ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
                ["AppHost__GatewayPort"] = command.GatewayPort.ToString(CultureInfo.InvariantCulture),
            },
            repository,
            stopSignal: 2,
            outputLine: command.OnLine);
        await Task.WhenAny(command._ready.Task, command._process.Exited).WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(command._ready.Task.IsCompleted, "the AppHost stopped before it was ready:\n" + command.Output);
        command.AppHostProcessId = AppHostChild(command._process.Id);
        command.Processes = RunProcesses.Of(command.AppHostProcessId);
        return command;
    }

    /// <summary>Ctrl+C: both processes of the terminal's foreground group get SIGINT; returns the exit code.</summary>
    public async Task<int> InterruptAsync()
    {
        RunProcesses.Signal("INT", AppHostProcessId);
        RunProcesses.Signal("INT", _process!.Id);
        try
        {
            return await _process.Exited.WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException e)
        {
            var alive = Processes.Prepend(AppHostProcessId).Prepend(_process.Id).Where(RunProcesses.IsAlive)
                .Select(pid => $"{pid} {RunProcesses.CommandLine(pid)}");
            throw new TimeoutException(
                $"'dotnet run' had not exited 2 minutes after Ctrl+C. Still alive:\n{string.Join('\n', alive)}\nIts last output:\n{string.Join('\n', Output.Split('\n').TakeLast(60))}",
                e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private static string BuildConfiguration =>
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Router.Aspire.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No Router.Aspire.sln above {AppContext.BaseDirectory}.");
    }

    private static int AppHostChild(int dotnetRun) =>
        Assert.Single(Directory.GetDirectories($"/proc/{dotnetRun}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pid => int.Parse(pid, CultureInfo.InvariantCulture)));

    private void OnLine(string line)
    {
        lock (_lines)
        {
            _lines.Add(line);
        }

        if (RunFolderLine().IsMatch(line))
        {
            _ready.TrySetResult();
        }
    }

    private Match Match(Regex pattern)
    {
        var match = pattern.Match(Output);
        Assert.True(match.Success, $"the AppHost did not print {pattern}:\n{Output}");
        return match;
    }

    [GeneratedRegex(@"^  Gateway:\s+(http://\S+)", RegexOptions.Multiline)]
    private static partial Regex GatewayLine();

    [GeneratedRegex(@"^  Dashboard:\s+(http://\S+)", RegexOptions.Multiline)]
    private static partial Regex DashboardLine();

    [GeneratedRegex(@"^  Run data:\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex RunFolderLine();
}
