using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;

namespace Router.LocalServers;

/// <summary>
/// A private PostgreSQL instance started from the machine's server binaries: its own data
/// folder, a free loopback port, password authentication, run as the 'postgres' user when we are
/// root (initdb refuses root). The process is our child and stops with us.
/// </summary>
public sealed class LocalPostgresServer : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private readonly string _binDirectory;
    private readonly string _dataDirectory;
    private readonly bool _durable;
    private readonly Action<string> _log;
    private ChildProcess? _process;

    private LocalPostgresServer(string binDirectory, string dataDirectory, int port, string password, bool durable, Action<string> log)
    {
        _binDirectory = binDirectory;
        _dataDirectory = dataDirectory;
        Port = port;
        Password = password;
        _durable = durable;
        _log = log;
    }

    public int Port { get; }

    public string Password { get; }

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public ChildProcess? Process => _process;

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Password = Password,
        Database = database,
    }.ConnectionString;

    /// <summary>Creates the data folder (under <paramref name="stateDirectory"/>), starts the server and waits until it accepts connections.</summary>
    /// <param name="durable">false for tests: no fsync, which makes start and writes several times faster.</param>
    public static async Task<LocalPostgresServer> StartAsync(
        string stateDirectory, Action<string> log, bool durable = true, CancellationToken cancellationToken = default)
    {
        var initdb = await ServerPackages.RequireAsync(
            "PostgreSQL", "postgresql", () => FindBinary("initdb"), "ConnectionStrings__ledger", log, cancellationToken);
        var binDirectory = Path.GetDirectoryName(initdb)!;

        var dataDirectory = Path.Combine(PrepareStateDirectory(stateDirectory), $"postgres-{Guid.NewGuid():N}");
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        var server = new LocalPostgresServer(binDirectory, dataDirectory, FreePort.Next(), password, durable, log);
        await server.InitializeAsync(cancellationToken);
        await server.StartAsync(cancellationToken);
        return server;
    }

    /// <summary>Starts the server again on the same port and data (after <see cref="StopAsync"/> or a crash).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        List<string> arguments =
        [
            "-D", _dataDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-h", "127.0.0.1", "-k", _dataDirectory, "-c", "max_connections=200",
        ];
        if (!_durable)
        {
            arguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        var (file, args) = AsServerUser(Path.Combine(_binDirectory, "postgres"), arguments);
        _process = ChildProcess.Start(file, args, stopSignal: NativeMethods.SIGINT, outputLine: line => _log(line));
        await WaitUntilReadyAsync(cancellationToken);
    }

    /// <summary>Fast shutdown: open sessions are ended, the data stays for a later <see cref="StartAsync(CancellationToken)"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(15));
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public async Task CreateDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
        {
            return;
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover folder under the state directory is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
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

    private static string PrepareStateDirectory(string stateDirectory)
    {
        Directory.CreateDirectory(stateDirectory);
        if (NativeMethods.IsRoot)
        {
            // The server runs as 'postgres', which must be able to reach its data folder.
            for (var dir = new DirectoryInfo(stateDirectory); dir is not null; dir = dir.Parent)
            {
                if (!OperatingSystem.IsWindows() && (dir.UnixFileMode & UnixFileMode.OtherExecute) == 0)
                {
                    throw new ServerUnavailableException(
                        $"PostgreSQL runs as the 'postgres' user, which cannot enter '{dir.FullName}'. Use a state folder under {Path.GetTempPath()}.");
                }
            }
        }

        return stateDirectory;
    }

    private static (string File, List<string> Arguments) AsServerUser(string program, List<string> arguments)
    {
        if (!NativeMethods.IsRoot)
        {
            return (program, arguments);
        }

        // setpriv execs the program in place, so the child we hold is the server itself.
        return ("setpriv", ["--reuid", SuperUser, "--regid", SuperUser, "--init-groups", "--", program, .. arguments]);
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_dataDirectory);
        var passwordFile = Path.Combine(_dataDirectory + ".pw");
        await File.WriteAllTextAsync(passwordFile, Password, cancellationToken);
        if (NativeMethods.IsRoot)
        {
            await RunAsync("chown", [$"{SuperUser}:{SuperUser}", _dataDirectory, passwordFile], cancellationToken);
        }

        try
        {
            var (file, args) = AsServerUser(Path.Combine(_binDirectory, "initdb"),
            [
                "-D", _dataDirectory, "-U", SuperUser, "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ]);
            await RunAsync(file, args, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new ServerUnavailableException(
                    $"PostgreSQL exited with code {await _process.Exited} while starting:{Environment.NewLine}{string.Join(Environment.NewLine, _process.Tail)}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=2");
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static async Task RunAsync(string file, List<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new ServerUnavailableException(
                $"'{file} {string.Join(' ', arguments)}' failed with exit code {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
        }
    }
}
