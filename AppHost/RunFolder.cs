using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Router.AppHost;

/// <summary>
/// The folder of one AppHost run: PostgreSQL's data and the Gateway's ledger journal. Every run gets
/// its own, so a second run or a test never sees another run's rows or journal; it is removed when
/// the run stops unless <c>AppHost:KeepData</c> is true, and folders of runs that were killed are
/// removed by the next run.
/// </summary>
public sealed class RunFolder
{
    public const string StateDirectoryKey = "AppHost:StateDirectory";
    public const string KeepDataKey = "AppHost:KeepData";
    private const string KeepMarker = ".keep";
    private const string Prefix = "run-";

    private RunFolder(string path, bool keep) => (Path, Keep) = (path, keep);

    public string Path { get; }

    public bool Keep { get; }

    /// <summary>Root of every run's folder: <c>AppHost:StateDirectory</c>, default /tmp/router-apphost (the 'postgres' user must reach it).</summary>
    public static string Root(IConfiguration configuration) =>
        configuration[StateDirectoryKey] is { Length: > 0 } configured
            ? System.IO.Path.GetFullPath(configured)
            : System.IO.Path.Combine(System.IO.Path.GetTempPath(), "router-apphost");

    public static RunFolder Create(IDistributedApplicationBuilder builder)
    {
        var root = Root(builder.Configuration);
        Directory.CreateDirectory(root);
        RemoveAbandoned(root);

        var name = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}");
        var path = System.IO.Path.Combine(root, name);
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            var readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(root, readable);
            File.SetUnixFileMode(path, readable);
        }

        var keep = builder.Configuration.GetValue<bool>(KeepDataKey);
        if (keep)
        {
            File.WriteAllText(System.IO.Path.Combine(path, KeepMarker), "kept because AppHost:KeepData=true\n");
        }

        var run = new RunFolder(path, keep);
        builder.Services.AddHostedService(services => new RemoveOnStop(run, services.GetRequiredService<IHostApplicationLifetime>()));
        return run;
    }

    private void Remove()
    {
        if (!Keep)
        {
            TryDelete(Path);
        }
    }

    /// <summary>Folders of runs whose process is gone (killed, not stopped) and that were not kept.</summary>
    private static void RemoveAbandoned(string root)
    {
        foreach (var folder in Directory.GetDirectories(root, Prefix + "*"))
        {
            var pidText = System.IO.Path.GetFileName(folder)[Prefix.Length..].Split('-')[0];
            if (int.TryParse(pidText, CultureInfo.InvariantCulture, out var pid)
                && !Directory.Exists($"/proc/{pid}")
                && !File.Exists(System.IO.Path.Combine(folder, KeepMarker)))
            {
                TryDelete(folder);
            }
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"Could not remove {folder}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            Console.Error.WriteLine($"Could not remove {folder}: {e.Message}");
        }
    }

    /// <summary>Removes the folder once the application has stopped, i.e. after the orchestrator stopped every resource.</summary>
    private sealed class RemoveOnStop(RunFolder run, IHostApplicationLifetime lifetime) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStopped.Register(run.Remove);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
