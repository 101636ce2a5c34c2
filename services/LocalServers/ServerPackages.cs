using System.Diagnostics;

namespace Router.LocalServers;

/// <summary>
/// Finds server binaries on this machine and, on Debian/Ubuntu when the process may install
/// packages (root or passwordless sudo), installs the missing ones with apt.
/// </summary>
public static class ServerPackages
{
    private static readonly SemaphoreSlim InProcessLock = new(1, 1);

    public static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/usr/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// Returns the binary <paramref name="find"/> locates, installing <paramref name="package"/> with apt
    /// first when it is missing and this machine allows it; otherwise throws with what to do.
    /// </summary>
    public static async Task<string> RequireAsync(
        string what, string package, Func<string?> find, string connectionStringHint, Action<string> log, CancellationToken cancellationToken)
    {
        if (find() is { } found)
        {
            return found;
        }

        var why = CanInstallWithApt();
        if (why is not null)
        {
            throw new ServerUnavailableException(
                $"{what} is not installed and cannot be installed automatically ({why}). " +
                $"Install it (Debian/Ubuntu: 'sudo apt-get install -y {package}') or set {connectionStringHint} to an existing server.");
        }

        await InProcessLock.WaitAsync(cancellationToken);
        try
        {
            using var machineLock = await AcquireMachineLockAsync(cancellationToken);
            if (find() is { } installedMeanwhile)
            {
                return installedMeanwhile;
            }

            log($"{what} not found: installing the Debian package '{package}' with apt-get (one time)...");
            await RunAptAsync(["update", "-q"], cancellationToken);
            await RunAptAsync(["install", "-y", "-q", "--no-install-recommends", package], cancellationToken);
            log($"{what}: installed '{package}'.");
        }
        finally
        {
            InProcessLock.Release();
        }

        return find() ?? throw new ServerUnavailableException(
            $"apt-get installed '{package}' but {what} is still not found. Set {connectionStringHint} to an existing server.");
    }

    private static string? CanInstallWithApt()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/etc/debian_version") || FindOnPath("apt-get") is null)
        {
            return "this is not a Debian/Ubuntu machine with apt-get";
        }

        if (NativeMethods.IsRoot)
        {
            return null;
        }

        return HasPasswordlessSudo() ? null : "not root and no passwordless sudo";
    }

    private static bool HasPasswordlessSudo()
    {
        if (FindOnPath("sudo") is null)
        {
            return false;
        }

        using var probe = Process.Start(new ProcessStartInfo("sudo", ["-n", "true"]) { RedirectStandardError = true, RedirectStandardOutput = true });
        probe!.WaitForExit();
        return probe.ExitCode == 0;
    }

    private static async Task RunAptAsync(string[] arguments, CancellationToken cancellationToken)
    {
        string file;
        List<string> args;
        if (NativeMethods.IsRoot)
        {
            file = "apt-get";
            args = ["-o", "DPkg::Lock::Timeout=300", .. arguments];
        }
        else
        {
            file = "sudo";
            args = ["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=300", .. arguments];
        }

        // Debian's maintainer scripts would start a system-wide server on its default port;
        // we only want the binaries, the launcher runs its own private instance.
        await RunToEndAsync(file, args, new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive", ["RUNLEVEL"] = "1" }, cancellationToken);
    }

    /// <summary>Runs a command to its end; a non-zero exit throws with the command line and what it printed.</summary>
    internal static async Task RunToEndAsync(string file, List<string> arguments, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new ServerUnavailableException(
                $"'{file} {string.Join(' ', arguments)}' failed with exit code {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
        }
    }

    private static async Task<FileStream> AcquireMachineLockAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), "router-aspire-apt.lock");
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(250, cancellationToken);
            }
        }
    }
}

public sealed class ServerUnavailableException(string message) : Exception(message);
