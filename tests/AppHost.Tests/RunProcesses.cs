using System.Globalization;
using Xunit;

namespace Router.AppHost.Tests;

/// <summary>
/// The processes of one AppHost run, read from /proc: the AppHost's descendants and those of the
/// orchestrator (DCP) that watches it, which detaches from the AppHost and starts every resource.
/// </summary>
public static class RunProcesses
{
    /// <summary>Every process of the run of the AppHost (or test host) <paramref name="appHostPid"/>.</summary>
    public static HashSet<int> Of(int appHostPid)
    {
        var roots = new List<int> { appHostPid };
        roots.AddRange(AllProcesses().Where(pid => CommandLine(pid) is { } command
            && command.Contains("dcp", StringComparison.Ordinal)
            && command.Contains($"--monitor {appHostPid.ToString(CultureInfo.InvariantCulture)} ", StringComparison.Ordinal)));
        var found = new HashSet<int>();
        foreach (var root in roots)
        {
            found.Add(root);
            found.UnionWith(Descendants(root));
        }

        found.Remove(appHostPid);
        return found;
    }

    /// <summary>The service process itself (not the 'dotnet run' that launched it) whose OTEL_SERVICE_NAME is <paramref name="service"/>.</summary>
    public static int Service(int appHostPid, string service)
    {
        var candidates = Of(appHostPid).Where(pid => Environment(pid).Contains($"OTEL_SERVICE_NAME={service}")).ToHashSet();
        return Assert.Single(candidates, pid => !candidates.Any(other => Parent(other) == pid));
    }

    /// <summary>The port a service's Kestrel endpoint listens on, as the orchestrator told it (Kestrel__Endpoints__&lt;name&gt;__Url).</summary>
    public static int KestrelPort(int pid, string endpoint) =>
        new Uri(Environment(pid).Single(v => v.StartsWith($"Kestrel__Endpoints__{endpoint}__Url=", StringComparison.Ordinal)).Split('=', 2)[1]).Port;

    /// <summary>
    /// Bytes that arrived on the process's connections to <paramref name="localPort"/> and that it
    /// has not read: with the process frozen, a request sent to it sits there, which shows it is in flight.
    /// </summary>
    public static long UnreadBytes(int pid, int localPort)
    {
        var port = localPort.ToString("X4", CultureInfo.InvariantCulture);
        var inodes = Directory.GetFiles($"/proc/{pid}/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(target => target!["socket:[".Length..^1])
            .ToHashSet();
        long unread = 0;
        foreach (var table in new[] { $"/proc/{pid}/net/tcp", $"/proc/{pid}/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (inodes.Contains(fields[9]) && fields[1].EndsWith(":" + port, StringComparison.Ordinal))
                {
                    unread += long.Parse(fields[4].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                }
            }
        }

        return unread;
    }

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Sends a signal (STOP, CONT, KILL, INT) to a process, or to a process group when <paramref name="pid"/> is negative.</summary>
    public static void Signal(string signal, int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [$"-{signal}", "--", pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static IEnumerable<int> AllProcesses() =>
        Directory.GetDirectories("/proc").Select(Path.GetFileName).Select(name => int.TryParse(name, CultureInfo.InvariantCulture, out var pid) ? pid : 0).Where(pid => pid > 0);

    private static IEnumerable<int> Descendants(int parent)
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.GetDirectories($"/proc/{parent}/task"))
            {
                children.AddRange(File.ReadAllText(Path.Combine(task, "children"))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Select(pid => int.Parse(pid, CultureInfo.InvariantCulture)));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return children.Concat(children.SelectMany(Descendants));
    }

    private static int Parent(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 4)..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>The command line of a process, arguments joined by spaces; null once it is gone.</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static HashSet<string> Environment(int pid)
    {
        try
        {
            return [.. File.ReadAllText($"/proc/{pid}/environ").Split('\0')];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
