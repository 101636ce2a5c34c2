using System.Security.Cryptography;

namespace Router.LocalServers;

/// <summary>
/// The machine's PostgreSQL server binaries and what running a private instance from them takes:
/// finding (or installing) them, a data folder made by initdb, and running as the 'postgres'
/// user when we are root (initdb and postgres refuse root).
/// </summary>
public static class PostgresInstallation
{
    public const string SuperUser = "postgres";

    /// <summary>The folder holding initdb and postgres, installing Debian's 'postgresql' package first when it is missing and this process may.</summary>
    public static async Task<string> RequireBinDirectoryAsync(string connectionStringHint, Action<string> log, CancellationToken cancellationToken)
    {
        var initdb = await ServerPackages.RequireAsync("PostgreSQL", "postgresql", () => FindBinary("initdb"), connectionStringHint, log, cancellationToken);
        return Path.GetDirectoryName(initdb)!;
    }

    public static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    /// <summary>Creates <paramref name="stateDirectory"/> and checks the server user can reach it.</summary>
    public static string PrepareStateDirectory(string stateDirectory)
    {
        Directory.CreateDirectory(stateDirectory);
        if (NativeMethods.IsRoot)
        {
            for (var dir = new DirectoryInfo(stateDirectory); dir is not null; dir = dir.Parent)
            {
                if (!OperatingSystem.IsWindows() && (dir.UnixFileMode & UnixFileMode.OtherExecute) == 0)
                {
                    throw new ServerUnavailableException(
                        $"PostgreSQL runs as the '{SuperUser}' user, which cannot enter '{dir.FullName}'. Use a state folder under {Path.GetTempPath()}.");
                }
            }
        }

        return stateDirectory;
    }

    /// <summary>Runs initdb into a new <paramref name="dataDirectory"/>: UTF-8, password authentication for the superuser.</summary>
    public static async Task InitializeDataDirectoryAsync(string binDirectory, string dataDirectory, string password, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dataDirectory);
        var passwordFile = dataDirectory + ".pw";
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
        if (NativeMethods.IsRoot)
        {
            await ServerPackages.RunToEndAsync("chown", [$"{SuperUser}:{SuperUser}", dataDirectory, passwordFile], null, cancellationToken);
        }

        try
        {
            var (file, args) = AsServerUser(Path.Combine(binDirectory, "initdb"),
            [
                "-D", dataDirectory, "-U", SuperUser, "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ]);
            await ServerPackages.RunToEndAsync(file, args, null, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// The command line that runs <paramref name="program"/> as the server user: through setpriv when
    /// we are root (it execs in place, so signals sent to the process reach the server itself).
    /// </summary>
    public static (string File, List<string> Arguments) AsServerUser(string program, List<string> arguments)
    {
        if (!NativeMethods.IsRoot)
        {
            return (program, arguments);
        }

        return ("setpriv", ["--reuid", SuperUser, "--regid", SuperUser, "--init-groups", "--", program, .. arguments]);
    }

    private static string? FindBinary(string name)
    {
        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            var newest = Directory.GetDirectories(debianRoot)
                .Select(dir => (Dir: dir, Version: int.TryParse(Path.GetFileName(dir), out var v) ? v : -1))
                .Where(x => File.Exists(Path.Combine(x.Dir, "bin", name)))
                .OrderByDescending(x => x.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return Path.Combine(newest.Dir, "bin", name);
            }
        }

        return ServerPackages.FindOnPath(name);
    }
}
