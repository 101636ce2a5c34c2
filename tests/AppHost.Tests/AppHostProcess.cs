using System.Text.RegularExpressions;
using Router.LocalServers;
using Router.Testing;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>The built AppHost run as 'dotnet run --project AppHost' runs it, once its table of addresses is printed.</summary>
public sealed partial class AppHostProcess : IAsyncDisposable
{
    private readonly List<string> _lines;

    private AppHostProcess(ChildProcess process, List<string> lines) => (Process, _lines) = (process, lines);

    public ChildProcess Process { get; }

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

    public Uri Gateway => new(TableAddress().Match(Output, Output.IndexOf("[apphost] gateway", StringComparison.Ordinal)).Groups["url"].Value);

    public static async Task<AppHostProcess> StartAsync(IDictionary<string, string?> environment)
    {
        var project = new Projects.AppHost();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new List<string>();
        var process = ChildProcess.Start(
            "dotnet",
            [project.AssemblyPath],
            new Dictionary<string, string?>(environment) { ["ROUTER_APPHOST_STATE"] = Path.Combine(TestState.Directory, "apphost-" + Guid.NewGuid().ToString("N")[..8]) },
            Path.GetDirectoryName(project.ProjectPath),
            outputLine: line =>
            {
                lock (lines)
                {
                    lines.Add(line);
                }

                if (line.Contains("[apphost] gateway", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });
        var host = new AppHostProcess(process, lines);
        await Task.WhenAny(ready.Task, process.Exited).WaitAsync(TimeSpan.FromMinutes(4));
        Assert.True(ready.Task.IsCompleted, "AppHost exited before it was ready:\n" + string.Join('\n', process.Tail));
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.StopAsync(TimeSpan.FromSeconds(60));
        await Process.DisposeAsync();
    }

    /// <summary>The process id of the service the AppHost started with this environment entry, e.g. "Worker__Model=llama3.1-8b".</summary>
    public int ServiceProcessId(string environmentEntry) =>
        Descendants(Process.Id).Single(pid => EnvironmentOf(pid).Contains(environmentEntry));

    /// <summary>Sends a signal (STOP, CONT, KILL) to a process, as `kill -SIGNAL pid` does.</summary>
    public static void Signal(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static IEnumerable<int> Descendants(int parent)
    {
        var children = Directory.GetDirectories($"/proc/{parent}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pid => int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        return children.Concat(children.SelectMany(Descendants));
    }

    private static HashSet<string> EnvironmentOf(int pid)
    {
        try
        {
            return [.. File.ReadAllText($"/proc/{pid}/environ").Split('\0')];
        }
        catch (IOException)
        {
            return [];
        }
    }

    [GeneratedRegex(@"(?<url>http://127\.0\.0\.1:\d+)")]
    private static partial Regex TableAddress();
}
